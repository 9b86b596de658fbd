package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
)

// terminationDir holds a group's termination message files, one per
// container, each bind-mounted at its container's termination message path
// as the kubelet mounts a file of the pod's directory there.
func (r *Runtime) terminationDir(id string) string {
	return filepath.Join(r.groupDir(id), "termination")
}

// terminationMount empties the termination message file of a container's
// next attempt, creating it with mode 0666 so that the container's user,
// whoever it is, may write it, and returns its mount; nil when the
// container has no termination message path.
func (r *Runtime) terminationMount(id string, c runtime.ContainerSpec) (*runtimeapi.Mount, error) {
	if c.TerminationMessagePath == "" {
		return nil, nil
	}
	dir := r.terminationDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("termination message file of %s: %w", c.Name, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("termination message file of %s: %w", c.Name, err)
	}
	defer root.Close()
	name := safeName(c.Name)
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o666)
	if err != nil {
		return nil, fmt.Errorf("termination message file of %s: %w", c.Name, err)
	}
	defer f.Close()
	// The mode passed to open(2) loses the bits of the umask.
	if err := f.Chmod(0o666); err != nil {
		return nil, fmt.Errorf("termination message file of %s: %w", c.Name, err)
	}
	return &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: filepath.Join(dir, name)}, nil
}

// readTerminationMessage returns the last runtime.MaxTerminationMessageBytes
// of a container's termination message file, "" when it has none. The file
// is opened inside the group's termination directory (os.Root), without
// following a link and without blocking, and read only when it is a
// regular file.
func (r *Runtime) readTerminationMessage(id, container string) (string, error) {
	root, err := os.OpenRoot(r.terminationDir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open the termination message directory: %w", err)
	}
	defer root.Close()
	f, err := root.OpenFile(safeName(container), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", errors.New("not a regular file")
	}
	size := min(st.Size(), runtime.MaxTerminationMessageBytes)
	buf := make([]byte, size)
	n, err := f.ReadAt(buf, st.Size()-size)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return string(buf[:n]), nil
}

// exitMessage is the termination message of c's exited CRI container st,
// as the kubelet computes it: from its file, or the tail of that attempt's
// log under FallbackToLogsOnError.
func (r *Runtime) exitMessage(id string, c runtime.ContainerSpec, st *runtimeapi.ContainerStatus) string {
	return runtime.TerminationMessage(c.TerminationMessagePolicy, st.ExitCode, st.StartedAt > 0,
		func() (string, error) {
			if c.TerminationMessagePath == "" {
				return "", nil
			}
			return r.readTerminationMessage(id, c.Name)
		},
		func(lines int, w io.Writer) error {
			return writeTail(r.logPath(id, c.Name, st.GetMetadata().GetAttempt()), lines, w)
		})
}

// writeTail writes the last lines of the log at path, its rotated files
// included, to w, in the bounded memory of a crilog.Writer.
func writeTail(path string, lines int, w io.Writer) error {
	files, err := crilog.Open(path)
	if err != nil {
		return fmt.Errorf("open the log: %w", err)
	}
	defer files.Close()
	return crilog.NewWriter(w, crilog.Options{Tail: lines}).WriteLog(files.Sources())
}

// containerStatus reads the CRI status of c's container cid and, the first
// time that container is seen exited, its termination message, which
// applyCRIStatus then reports. The message is read without r.mu held.
func (r *Runtime) containerStatus(ctx context.Context, g *group, c *container, cid string) (*runtimeapi.ContainerStatus, error) {
	resp, err := r.o.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: cid})
	if err != nil {
		return nil, err
	}
	st := resp.GetStatus()
	if st == nil {
		return nil, fmt.Errorf("container %s: no status", cid)
	}
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		return st, nil
	}
	r.mu.Lock()
	known := c.messageOf == st.Id
	r.mu.Unlock()
	if !known {
		msg := r.exitMessage(g.spec.ID, c.spec, st)
		r.mu.Lock()
		c.messageOf, c.message = st.Id, msg
		r.mu.Unlock()
	}
	return st, nil
}
