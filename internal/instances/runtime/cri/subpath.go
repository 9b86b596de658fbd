package cri

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/mounts"
)

// errSubPath marks a subPath that cannot be mounted for what it is or
// resolves to, as opposed to a failure of the host.
var errSubPath = errors.New("subPath")

// subPathTarget is where mount index of a container's attempt sees its
// subPath: a bind mount in the group's directory, which no container
// reaches.
func (r *Runtime) subPathTarget(id, container string, index int) string {
	return filepath.Join(r.groupDir(id), "subpaths", safeName(container), strconv.Itoa(index))
}

// bindSubPaths points each mount of c that has a subPath (ms holds c's
// volume mounts, in order) at a bind mount of that file or directory of
// its volume, made anew for every attempt as the kubelet does. A subPath
// that resolves outside its volume is a *configError: the container waits
// with CreateContainerConfigError and is tried again, as on a kubelet.
func (r *Runtime) bindSubPaths(id string, c runtime.ContainerSpec, ms []*runtimeapi.Mount) error {
	for i, m := range c.VolumeMounts {
		if m.SubPath == "" {
			continue
		}
		target := r.subPathTarget(id, c.Name, i)
		err := bindSubPath(ms[i].HostPath, m.SubPath, target)
		if errors.Is(err, errSubPath) {
			return &configError{msg: fmt.Sprintf("failed to prepare subPath for volumeMount %q of container %q: %v", m.Name, c.Name, err)}
		}
		if err != nil {
			return fmt.Errorf("subPath %q of volume %s of container %s: %w", m.SubPath, m.Name, c.Name, err)
		}
		ms[i].HostPath = target
	}
	return nil
}

// bindSubPath bind-mounts the path sub of the volume directory volume on
// target (created as a file or directory to match). The path is resolved
// beneath the volume (openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_MAGICLINKS): a link that a container planted in the volume
// may point elsewhere in it, but one that leads out of it (to "/", to
// "..") fails, so no container reaches the host's files through a subPath
// (CVE-2017-1002101). The mount is made from the descriptor opened so
// (/proc/self/fd/N), never from a path a container could swap meanwhile.
// A missing sub is created as a directory of the volume root's mode, each
// component made beneath the volume in the same way.
func bindSubPath(volume, sub, target string) error {
	if sub == "" || filepath.IsAbs(sub) || hasDotDot(sub) {
		return fmt.Errorf("%w %q is not a relative path within the volume", errSubPath, sub)
	}
	rootFD, err := unix.Open(volume, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open volume %s: %w", volume, err)
	}
	defer unix.Close(rootFD)
	fd, err := openBeneath(rootFD, sub, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) {
		fd, err = mkdirBeneath(rootFD, sub)
	}
	if err != nil {
		return beneathError(sub, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat subPath %q: %w", sub, err)
	}
	if err := makeTarget(target, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount subPath %q on %s: %w", sub, target, err)
	}
	return nil
}

// hasDotDot reports whether p has a ".." element.
func hasDotDot(p string) bool {
	for el := range strings.SplitSeq(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// beneathError explains why a subPath could not be resolved.
func beneathError(sub string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%w %q resolves outside the volume", errSubPath, sub)
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w %q passes through a file that is not a directory", errSubPath, sub)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w %q: the kernel cannot resolve paths beneath a directory (openat2)", errSubPath, sub)
	}
	return fmt.Errorf("resolve subPath %q: %w", sub, err)
}

// openBeneath opens path beneath the directory dirFD.
func openBeneath(dirFD int, path string, flags int) (int, error) {
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), // #nosec G115 -- flag bits
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(dirFD, path, how)
		if !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) {
			return fd, err
		}
	}
}

// mkdirBeneath creates the missing directories of path beneath the
// directory rootFD, of the mode of that directory (as the kubelet gives a
// new subPath), and returns the last one opened as O_PATH. Each directory
// is made in its parent's descriptor, opened beneath the root.
func mkdirBeneath(rootFD int, path string) (int, error) {
	var root unix.Stat_t
	if err := unix.Fstat(rootFD, &root); err != nil {
		return -1, err
	}
	perm := root.Mode & 0o7777
	parent := rootFD
	elems := strings.Split(filepath.Clean(path), "/")
	for i, el := range elems {
		prefix := strings.Join(elems[:i+1], "/")
		fd, err := openBeneath(rootFD, prefix, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(parent, el, perm); err != nil && !errors.Is(err, unix.EEXIST) {
				closeIfNot(parent, rootFD)
				return -1, err
			}
			fd, err = chmodBeneath(rootFD, prefix, perm)
		}
		closeIfNot(parent, rootFD)
		if err != nil {
			return -1, err
		}
		parent = fd
	}
	return parent, nil
}

// chmodBeneath opens the directory path beneath rootFD, sets its mode
// (which the umask narrowed at its creation) and returns it as O_PATH.
func chmodBeneath(rootFD int, path string, perm uint32) (int, error) {
	fd, err := openBeneath(rootFD, path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, perm); err != nil {
		return -1, err
	}
	return openBeneath(rootFD, path, unix.O_PATH|unix.O_DIRECTORY)
}

func closeIfNot(fd, keep int) {
	if fd != keep {
		_ = unix.Close(fd)
	}
}

// makeTarget makes target an empty directory or file, with nothing
// mounted on it: what an earlier attempt mounted there goes first.
func makeTarget(target string, dir bool) error {
	if err := unmountAll(target); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(target), err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", target, err)
	}
	if dir {
		if err := os.Mkdir(target, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", target, err)
		}
		return nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", target, err)
	}
	return f.Close()
}

// unmountAll unmounts what is mounted on path, mounts stacked there too.
func unmountAll(path string) error {
	for range 10 {
		points, err := mounts.PointsUnder(filepath.Dir(path))
		if err != nil {
			return err
		}
		found := false
		for _, p := range points {
			if p == path {
				found = true
			}
		}
		if !found {
			return nil
		}
		if err := mounts.Unmount(path); err != nil {
			return err
		}
	}
	return fmt.Errorf("mounts on %s remain after 10 unmounts", path)
}
