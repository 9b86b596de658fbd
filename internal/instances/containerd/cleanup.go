package containerd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Cleanup removes everything containerd runs and then stops it; it is for
// tests and uninstall, not for a service restart (use Stop for that).
//
// It stops and removes every pod sandbox through CRI (which ends their
// containers, releases their IPs and network namespaces and lets their
// shims exit), stops containerd like Stop does with what is left of ctx,
// unmounts whatever is still mounted under Dir (see UnmountUnder) and
// removes the socket if it was placed outside Dir. Dir itself is kept.
func (d *Containerd) Cleanup(ctx context.Context) error {
	errs := []error{d.RemoveAllPods(ctx)}
	errs = append(errs, d.Stop(ctx))
	errs = append(errs, UnmountUnder(d.cfg.Dir))
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

// UnmountUnder lazily unmounts every mount point strictly under dir (as
// listed in /proc/self/mountinfo), deepest first, repeating for mounts
// stacked on one another. containerd leaves overlay rootfs mounts, shm
// mounts and network namespace bind mounts under its root and state
// directories when it is killed with pods still running.
func UnmountUnder(dir string) error {
	dir = filepath.Clean(dir)
	const maxRounds = 10
	for range maxRounds {
		points, err := mountPointsUnder(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		for _, mp := range points {
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("containerd: unmount %s: %w", mp, err)
			}
		}
	}
	return fmt.Errorf("containerd: mounts under %s remain after %d rounds of unmounting", dir, maxRounds)
}

// mountPointsUnder lists the mount points strictly under dir, longest
// (deepest) first.
func mountPointsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("containerd: read mountinfo: %w", err)
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

// HasPods reports, without starting containerd, whether the containerd of
// cfg has pod sandboxes on record (running or not): the CRI plugin keeps a
// directory per sandbox until it is removed.
func HasPods(cfg Config) bool {
	entries, err := os.ReadDir(filepath.Join(cfg.Dir, "root", "io.containerd.grpc.v1.cri", "sandboxes"))
	return err == nil && len(entries) > 0
}
