package memory

import (
	"context"
	"fmt"
	"io"

	"github.com/vnode-io/vnode/internal/backend"
)

var _ backend.ContainerIO = (*Backend)(nil)

// findLocked returns the workload of ref: by UID, or by namespace and name
// when the UID is empty.
func (b *Backend) findLocked(ref backend.PodRef) (*workload, error) {
	if ref.UID != "" {
		if wl, ok := b.workloads[ref.UID]; ok {
			return wl, nil
		}
		return nil, fmt.Errorf("%w: pod %s/%s (uid %s)", backend.ErrNotFound, ref.Namespace, ref.Name, ref.UID)
	}
	for _, wl := range b.workloads {
		if wl.pod.Namespace == ref.Namespace && wl.pod.Name == ref.Name {
			return wl, nil
		}
	}
	return nil, fmt.Errorf("%w: pod %s/%s", backend.ErrNotFound, ref.Namespace, ref.Name)
}

// containerLocked returns the state of a container (init containers
// included) of wl.
func containerLocked(wl *workload, name string) (*backend.ContainerState, error) {
	for _, list := range [][]backend.ContainerState{wl.state.Containers, wl.state.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: container %s in pod %s/%s", backend.ErrNotFound, name, wl.pod.Namespace, wl.pod.Name)
}

// Logs implements backend.ContainerIO: each run of a container logs a few
// lines when it starts and one when it exits; Follow returns when the run
// ends.
func (b *Backend) Logs(ctx context.Context, ref backend.PodRef, container string, opts backend.LogOptions, w io.Writer) error {
	run, lines, err := b.logRun(ref, container, opts.Previous)
	if err != nil {
		return err
	}
	f := newLogFilter(w, opts)
	more, err := f.write(f.selectLines(lines, true))
	if err != nil || !more || !opts.Follow || opts.Previous {
		return err
	}
	select {
	case <-run.ended:
	case <-ctx.Done():
		return nil
	}
	b.mu.Lock()
	rest := run.lines[len(lines):]
	b.mu.Unlock()
	_, err = f.write(f.selectLines(rest, false))
	return err
}

// logRun returns the container's current (or previous) run and a copy of
// the lines it has logged so far.
func (b *Backend) logRun(ref backend.PodRef, container string, previous bool) (*containerRun, []logLine, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, err := b.findLocked(ref)
	if err != nil {
		return nil, nil, err
	}
	c, err := containerLocked(wl, container)
	if err != nil {
		return nil, nil, err
	}
	runs := wl.runs[container]
	i := len(runs) - 1
	if previous {
		i--
	}
	switch {
	case i >= 0:
		run := runs[i]
		return run, append([]logLine(nil), run.lines...), nil
	case previous:
		return nil, nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, ref.Name)
	default:
		return nil, nil, fmt.Errorf("container %q in pod %q is waiting to start: %s", container, ref.Name, c.Reason)
	}
}

// runningLocked returns the workload of ref if container runs in it.
func (b *Backend) runningLocked(ref backend.PodRef, container string) (*workload, *containerRun, error) {
	wl, err := b.findLocked(ref)
	if err != nil {
		return nil, nil, err
	}
	c, err := containerLocked(wl, container)
	if err != nil {
		return nil, nil, err
	}
	runs := wl.runs[container]
	if c.State != backend.Running || wl.deleting || len(runs) == 0 {
		return nil, nil, fmt.Errorf("container %s in pod %s/%s is not running", container, ref.Namespace, ref.Name)
	}
	return wl, runs[len(runs)-1], nil
}

// Exec implements backend.ContainerIO with a tiny shell; see runShell.
func (b *Backend) Exec(ctx context.Context, ref backend.PodRef, container string, cmd []string, s backend.Streams) error {
	b.mu.Lock()
	wl, _, err := b.runningLocked(ref, container)
	var env []backend.EnvVar
	var hostname string
	if err == nil {
		env, hostname = wl.env[container], wl.pod.Name
	}
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return runShell(ctx, cmd, shellEnv{vars: env, hostname: hostname}, s)
}

// Attach implements backend.ContainerIO: the main process echoes its
// standard input; the session ends when the input ends, the container
// stops or ctx ends.
func (b *Backend) Attach(ctx context.Context, ref backend.PodRef, container string, s backend.Streams) error {
	b.mu.Lock()
	_, run, err := b.runningLocked(ref, container)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	copied := make(chan error, 1)
	if s.Stdin != nil && s.Stdout != nil {
		go func() {
			_, err := io.Copy(s.Stdout, s.Stdin)
			copied <- err
		}()
	}
	select {
	case err := <-copied:
		return err
	case <-run.ended:
		return nil
	case <-ctx.Done():
		return nil
	}
}

// PortForward implements backend.ContainerIO: every port of a running
// workload is an echo server.
func (b *Backend) PortForward(ctx context.Context, ref backend.PodRef, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	b.mu.Lock()
	wl, err := b.findLocked(ref)
	ok := err == nil && !wl.deleting && wl.state.IP != ""
	b.mu.Unlock()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("pod %s/%s is not running", ref.Namespace, ref.Name)
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of range", port)
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(stream, stream)
		copied <- err
	}()
	select {
	case err := <-copied:
		return err
	case <-ctx.Done():
		return nil
	}
}
