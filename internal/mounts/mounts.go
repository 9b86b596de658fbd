// Package mounts reads the mount table and mounts and unmounts what
// vnode's service puts on the host: containerd's leftovers and the tmpfs
// file systems that hold secret and memory volumes.
package mounts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// UnmountUnder lazily unmounts every mount point strictly under dir (as
// listed in /proc/self/mountinfo), deepest first, repeating for mounts
// stacked on one another. containerd leaves overlay rootfs mounts, shm
// mounts and network namespace bind mounts under its root and state
// directories when it is killed with pods still running; groups leave
// their secret volumes' tmpfs mounts.
func UnmountUnder(dir string) error {
	dir = filepath.Clean(dir)
	const maxRounds = 10
	for range maxRounds {
		points, err := PointsUnder(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		for _, mp := range points {
			if err := Unmount(mp); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("mounts under %s remain after %d rounds of unmounting", dir, maxRounds)
}

// PointsUnder lists the mount points strictly under dir, longest
// (deepest) first.
func PointsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	points := parseMountPoints(data, dir)
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	return points, nil
}

// parseMountPoints returns the mount points (field 5 of mountinfo, with
// octal escapes undone) strictly under dir.
func parseMountPoints(mountinfo []byte, dir string) []string {
	prefix := dir + string(filepath.Separator)
	var points []string
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if strings.HasPrefix(mp, prefix) {
			points = append(points, mp)
		}
	}
	return points
}

// unescapeMountPath undoes the kernel's \ooo octal escapes of space, tab,
// newline and backslash in mountinfo paths.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsMountPoint reports whether a file system is mounted on the directory
// path: it lies on another device than its parent. (A bind mount of a
// directory of the same file system does not show; vnode makes none.) Two
// stat calls, where reading mountinfo grows with every mount on the host.
func IsMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", path, err)
	}
	if err := unix.Lstat(filepath.Dir(filepath.Clean(path)), &parent); err != nil {
		return false, fmt.Errorf("stat the parent of %s: %w", path, err)
	}
	return st.Dev != parent.Dev, nil
}

// Unmount lazily unmounts what is mounted on path; a path with nothing
// mounted on it, or none at all, is left alone.
func Unmount(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// MountMemory mounts a tmpfs of at most size bytes (at least one page) on
// dir, without devices or set-user-ID programs, its root of mode (the
// permission bits of it): the medium of a volume whose files may be
// programs, as the kubelet's memory-backed volumes are.
func MountMemory(dir string, size int64, mode os.FileMode) error {
	opts := fmt.Sprintf("mode=%#o,size=%d", mode.Perm(), max(size, int64(os.Getpagesize())))
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	return nil
}
