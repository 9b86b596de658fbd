package up

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vnode-io/vnode/internal/process"
)

// runDetached starts `vnode up` again as a background supervisor in a
// session of its own, relays its progress, and returns once it reports the
// cluster ready, or with its error when it exits first.
func runDetached(ctx context.Context, stateDir string, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the vnode binary: %w", err)
	}
	logPath := filepath.Join(stateDir, "logs", "vnode-up.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", stateDir, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	defer logFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	defer pr.Close()

	args := append(withoutDetach(os.Args[1:]), "--state-dir="+stateDir, "--notify-fd=3")
	cmd := exec.Command(exe, args...)
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.ExtraFiles = []*os.File{pw} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("start background vnode: %w", err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ready := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if sc.Text() == readyLine {
			ready = true
			break
		}
		fmt.Fprintln(stdout, sc.Text())
	}
	if ready {
		fmt.Fprintf(stdout, "running in the background (pid %d, log %s); stop it with `vnode down --state-dir %s`\n", cmd.Process.Pid, logPath, stateDir)
		return nil
	}
	select {
	case err := <-exited:
		return fmt.Errorf("the cluster did not start (%v); last lines of %s:\n%s", err, logPath, process.Tail(logPath, 20))
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return errors.Join(ctx.Err(), <-exited)
	}
}

// withoutDetach drops --detach (in any spelling) and any --state-dir from
// the arguments; the caller adds the resolved state directory.
func withoutDetach(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--detach" || strings.HasPrefix(a, "--detach="):
		case a == "--state-dir":
			i++ // skip its value
		case strings.HasPrefix(a, "--state-dir="):
		default:
			out = append(out, a)
		}
	}
	return out
}
