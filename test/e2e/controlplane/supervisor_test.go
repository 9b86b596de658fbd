package controlplane

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/syncbuf"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// startForeground runs `vnode up` in the foreground, as a user would in a
// terminal, and waits until `vnode status` reports the cluster ready.
func startForeground(t *testing.T) (*exec.Cmd, string, localcluster.Ports) {
	t.Helper()
	stateDir := t.TempDir()
	ports, err := localcluster.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(env.vnode, append([]string{"up", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir}, portFlags(ports)...)...)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		_, _ = vnodeCLI(t, "down", "--state-dir", stateDir)
	})
	// Ready means vnode up has finished starting (it says how to stop it),
	// not just that every component answers: a signal before that is an
	// interrupted start.
	framework.WaitFor(t, "the foreground cluster ready", 3*time.Minute, func() (bool, error) {
		if !strings.Contains(out.String(), "press Ctrl-C to stop it") {
			return false, fmt.Errorf("vnode up has not finished starting:\n%s", out.String())
		}
		_, err := vnodeCLI(t, "status", "--state-dir", stateDir)
		return err == nil, err
	})
	return cmd, stateDir, ports
}

// waitExit waits for the process to end and returns how it ended.
func waitExit(t *testing.T, cmd *exec.Cmd, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		t.Fatalf("vnode up still runs %s after the signal", timeout)
		return nil
	}
}

// Ctrl-C (SIGINT) stops a foreground `vnode up` cleanly: it exits 0 and
// leaves no process or port behind.
func TestForegroundUpStopsOnCtrlC(t *testing.T) {
	cmd, stateDir, ports := startForeground(t)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, cmd, 2*time.Minute); err != nil {
		t.Errorf("vnode up exited with %v after Ctrl-C, want status 0", err)
	}
	if pids := framework.ProcessesMentioning(stateDir); len(pids) > 0 {
		t.Errorf("processes %v remain after Ctrl-C", pids)
	}
	assertPortsFree(t, ports)
	if _, err := vnodeCLI(t, "status", "--state-dir", stateDir); err == nil {
		t.Error("vnode status reports a stopped cluster as ready")
	}
}

// When the supervising vnode dies without a chance to clean up (SIGKILL),
// the kernel kills its components: nothing is orphaned. The container
// groups (CoreDNS's at least) keep running in their shims, as containers
// outlive a crashed kubelet, until the next `vnode up` adopts them or
// `vnode down` removes them.
func TestKilledSupervisorLeavesNoOrphans(t *testing.T) {
	cmd, stateDir, ports := startForeground(t)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = waitExit(t, cmd, time.Minute)
	// A process being torn down by the kernel shows an empty command line
	// while it still holds its sockets: wait for both to be gone.
	framework.WaitFor(t, "the components to die with their parent", time.Minute, func() (bool, error) {
		if pids := componentsMentioning(stateDir); len(pids) > 0 {
			return false, fmt.Errorf("processes %v remain", pids)
		}
		return portsFree(ports) == nil, portsFree(ports)
	})
	// The state directory is usable again at once: the lock died with the
	// supervisor.
	out, err := vnodeCLI(t, append([]string{"up", "--detach", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir}, portFlags(ports)...)...)
	if err != nil {
		t.Fatalf("vnode up after a killed supervisor: %v\n%s", err, out)
	}
	if out, err := vnodeCLI(t, "down", "--state-dir", stateDir); err != nil {
		t.Fatalf("vnode down: %v\n%s", err, out)
	}
	if pids := framework.ProcessesMentioning(stateDir); len(pids) > 0 {
		t.Errorf("processes %v remain after vnode down", pids)
	}
}

// componentsMentioning returns the processes that mention dir, except the
// container shims of the cluster's containerd.
func componentsMentioning(dir string) []int {
	var out []int
	for _, pid := range framework.ProcessesMentioning(dir) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.Contains(string(cmdline), "containerd-shim") {
			out = append(out, pid)
		}
	}
	return out
}
