package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/mounts"
)

// Cleanup removes everything containerd runs and then stops it; it is for
// tests and uninstall, not for a service restart (use Stop for that).
//
// It stops and removes every pod sandbox through CRI (which ends their
// containers, releases their IPs and network namespaces and lets their
// shims exit), stops containerd like Stop does with what is left of ctx,
// unmounts whatever is still mounted under Dir (see mounts.UnmountUnder) and
// removes the socket if it was placed outside Dir. Dir itself is kept.
func (d *Containerd) Cleanup(ctx context.Context) error {
	errs := []error{d.RemoveAllPods(ctx)}
	errs = append(errs, d.Stop(ctx))
	errs = append(errs, mounts.UnmountUnder(d.cfg.Dir))
	errs = append(errs, d.removeSocket())
	return errors.Join(errs...)
}

// RemoveAllPods stops and removes every pod sandbox containerd has.
func (d *Containerd) RemoveAllPods(ctx context.Context) error {
	resp, err := d.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("containerd: list pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range resp.GetItems() {
		if err := d.removePod(ctx, sb.Id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Containerd) removePod(ctx context.Context, id string) error {
	if _, err := d.runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("containerd: stop pod sandbox %s: %w", id, err)
	}
	if _, err := d.runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		return fmt.Errorf("containerd: remove pod sandbox %s: %w", id, err)
	}
	return nil
}

// removeSocket removes the gRPC and ttrpc sockets when they live outside
// Dir; containerd leaves them behind when it is killed.
func (d *Containerd) removeSocket() error {
	sock := d.cfg.SocketPath()
	if strings.HasPrefix(sock, d.cfg.Dir+string(filepath.Separator)) {
		return nil
	}
	var errs []error
	for _, p := range []string{sock, sock + ttrpcSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("containerd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// HasPods reports, without starting containerd, whether the containerd of
// cfg has pod sandboxes on record (running or not): the CRI plugin keeps a
// directory per sandbox until it is removed.
func HasPods(cfg Config) bool {
	entries, err := os.ReadDir(filepath.Join(cfg.Dir, "root", "io.containerd.grpc.v1.cri", "sandboxes"))
	return err == nil && len(entries) > 0
}
