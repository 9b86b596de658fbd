package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Spec describes a process to run.
type Spec struct {
	// Name identifies the process in errors and pid files. Required.
	Name string
	// Path is the executable. Required.
	Path string
	Args []string
	// Env is added to the parent's environment.
	Env []string
	// Dir is the working directory; the parent's when empty.
	Dir string
	// LogPath receives stdout and stderr, appended. Required.
	LogPath string
	// PidPath, when set, holds the pid while the process runs.
	PidPath string
}

// Process is a started child process.
type Process struct {
	spec Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts the process described by spec.
//
// The child gets its own process group, so that a Ctrl-C in the terminal
// reaches only the parent, which then stops its children in order. The
// kernel sends it SIGKILL when the parent dies (PR_SET_PDEATHSIG), so a
// crashed or killed parent leaves no orphans. Go ties that signal to the
// thread that forked the child; the runtime never ends threads of
// goroutines that are not locked to them, so in practice it follows the
// parent process.
func Start(spec Spec) (*Process, error) {
	if spec.Name == "" || spec.Path == "" || spec.LogPath == "" {
		return nil, errors.New("process: Name, Path and LogPath are required")
	}
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	logFile, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", spec.Name, err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "\n==== %s starting %s at %s ====\n", spec.Name, spec.Path, time.Now().Format(time.RFC3339))

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if spec.PidPath != "" {
			os.Remove(spec.PidPath) //nolint:errcheck // best effort: a stale pid file is checked before use
		}
		close(p.done)
	}()
	if spec.PidPath != "" {
		if err := writePid(spec.PidPath, cmd.Process.Pid); err != nil {
			p.Kill()
			return nil, fmt.Errorf("start %s: %w", spec.Name, err)
		}
	}
	return p, nil
}

// Name returns the process's name.
func (p *Process) Name() string { return p.spec.Name }

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// LogPath returns where the process logs.
func (p *Process) LogPath() string { return p.spec.LogPath }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process ended; only valid after Done is closed.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace for the process to exit, then
// sends SIGKILL and waits for it. Stopping an exited process succeeds.
func (p *Process) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.signalGroup(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.Kill()
	}
	// Children of the process (none of the control-plane components fork,
	// but a process may) go with its group.
	p.signalGroup(syscall.SIGKILL)
}

// Kill sends SIGKILL to the process group and waits for the process.
func (p *Process) Kill() {
	p.signalGroup(syscall.SIGKILL)
	<-p.done
}

func (p *Process) signalGroup(sig syscall.Signal) {
	// The group id equals the pid (Setpgid with Pgid 0).
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
}

// WaitContext waits until the process exits or ctx ends.
func (p *Process) WaitContext(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func writePid(path string, pid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}
