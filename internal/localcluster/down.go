package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vnode-io/vnode/internal/process"
)

// Down stops the cluster that another process runs from stateDir: it asks
// the supervising process to stop (SIGTERM), waits until it has released
// the state directory, and then stops any component that outlived it. It
// reports whether anything was running.
func Down(ctx context.Context, stateDir string, grace time.Duration) (bool, error) {
	cfg, err := LoadConfig(stateDir)
	if err != nil {
		return false, err
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return false, err
	}
	l := layout{cfg.StateDir}
	wasRunning := false
	if locked(l) {
		wasRunning = true
		pid, err := process.ReadPid(l.supervisorPid())
		if err != nil || pid == 0 {
			return true, fmt.Errorf("a process holds %s but its pid is unknown (%v)", l.lockFile(), err)
		}
		// The supervisor stops its components in order on SIGTERM; give it
		// their grace periods and some slack before killing it, which makes
		// the kernel kill the components.
		process.Terminate(pid, "", time.Duration(len(components(l, cfg, nil))+1)*grace)
		if err := waitUnlocked(ctx, l, grace); err != nil {
			return true, err
		}
	}
	for _, comp := range components(l, cfg, net.ParseIP(cfg.AdvertiseAddress)) {
		pid, err := process.ReadPid(l.pidFile(comp.name))
		if err != nil || pid == 0 {
			continue
		}
		if process.Running(pid, l.root) {
			wasRunning = true
			process.Terminate(pid, l.root, grace)
		}
		os.Remove(l.pidFile(comp.name)) //nolint:errcheck // stale pid file
	}
	// A supervisor that stopped normally has removed the container groups;
	// one that was killed has not.
	if err := removeGroups(l, cfg); err != nil {
		return wasRunning, err
	}
	if withKubeProxy(cfg) {
		if err := cleanupKubeProxy(cfg); err != nil {
			return wasRunning, err
		}
	}
	return wasRunning, nil
}

func waitUnlocked(ctx context.Context, l layout, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for locked(l) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the cluster in %s is still locked after its supervisor was stopped: %w", l.root, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
