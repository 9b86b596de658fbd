package cri

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// statOf returns a file's mode and group, without following a link.
func statOf(t *testing.T, path string) (os.FileMode, int64) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode(), int64(fi.Sys().(*syscall.Stat_t).Gid)
}

// A secret volume's files get their modes, and with an fsGroup its group,
// group-readable, directories set-group-ID; a change of modes alone
// rewrites the files.
func TestWriteAtomicModesAndGroup(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	gid := int64(4321)
	modes := map[string]uint32{"run.sh": 0o755, "key": 0o400}
	vol := runtime.Volume{Secret: map[string][]byte{"run.sh": []byte("#!/bin/sh"), "key": []byte("k"), "plain": []byte("p")},
		FileModes: modes}
	now := time.Now()
	if err := writeAtomic(dir, vol.Secret, fileAttrs{modes: vol.FileMode}, now); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"run.sh": 0o755, "key": 0o400, "plain": 0o644} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", name, fi.Mode(), err, want)
		}
	}
	if err := writeAtomic(dir, vol.Secret, fileAttrs{modes: vol.FileMode, gid: &gid}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"run.sh": 0o755, "key": 0o440, "plain": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode() != want || int64(fi.Sys().(*syscall.Stat_t).Gid) != gid {
			t.Errorf("%s with fsGroup: %v, %v; want %v of group %d", name, fi.Mode(), err, want, gid)
		}
	}
	data, _ := os.Readlink(filepath.Join(dir, dataLink))
	for _, d := range []string{dir, filepath.Join(dir, data)} {
		if mode, g := statOf(t, d); mode != os.ModeDir|os.ModeSetgid|0o755 || g != gid {
			t.Errorf("directory %s: %v of group %d", d, mode, g)
		}
	}
	if _, g := statOf(t, filepath.Join(dir, "key")); g != gid {
		t.Errorf("the link of key has group %d", g)
	}
}

// ownVolume gives every file and directory of a volume to the fsGroup,
// group-writable, directories set-group-ID, but leaves links' targets
// alone: a link a container planted to a host file changes nothing there.
// Under OnRootMismatch a volume whose root is owned is not walked.
func TestOwnVolume(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	vol := filepath.Join(base, "vol")
	host := filepath.Join(base, "host-file")
	if err := os.WriteFile(host, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "sub", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(host, filepath.Join(vol, "escape")); err != nil {
		t.Fatal(err)
	}
	gid := int64(2000)
	if err := ownVolume(vol, gid, ""); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		vol:                            os.ModeDir | os.ModeSetgid | 0o770,
		filepath.Join(vol, "sub"):      os.ModeDir | os.ModeSetgid | 0o770,
		filepath.Join(vol, "sub", "f"): 0o660,
	} {
		if mode, g := statOf(t, path); mode != want || g != gid {
			t.Errorf("%s: %v of group %d, want %v of %d", path, mode, g, want, gid)
		}
	}
	if _, g := statOf(t, filepath.Join(vol, "escape")); g != gid {
		t.Errorf("the link itself has group %d", g)
	}
	if mode, g := statOf(t, host); mode != 0o600 || g != 0 {
		t.Errorf("the host file behind a link became %v of group %d", mode, g)
	}
	// OnRootMismatch: an owned root means no walk.
	if err := os.Chmod(filepath.Join(vol, "sub", "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ownVolume(vol, gid, runtime.FSGroupChangeOnRootMismatch); err != nil {
		t.Fatal(err)
	}
	if mode, _ := statOf(t, filepath.Join(vol, "sub", "f")); mode != 0o600 {
		t.Errorf("OnRootMismatch walked an owned volume: %v", mode)
	}
	if err := ownVolume(vol, gid+1, runtime.FSGroupChangeOnRootMismatch); err != nil {
		t.Fatal(err)
	}
	if mode, g := statOf(t, filepath.Join(vol, "sub", "f")); mode != 0o660 || g != gid+1 {
		t.Errorf("OnRootMismatch with another group: %v of %d", mode, g)
	}
}

// A memory volume is as large as its size limit, never more than the
// group's memory (limits, else requests).
func TestMemoryVolumeSize(t *testing.T) {
	spec := runtime.GroupSpec{Containers: []runtime.ContainerSpec{{MemoryInGB: 0.5}, {MemoryInGB: 0.25, MemoryLimitInGB: 1}}}
	for _, tc := range []struct {
		limit, want int64
	}{{0, 3 << 29}, {64 << 20, 64 << 20}, {8 << 30, 3 << 29}} {
		if got := memoryVolumeSize(spec, runtime.Volume{SizeLimit: tc.limit}); got != tc.want {
			t.Errorf("size limit %d: %d, want %d", tc.limit, got, tc.want)
		}
	}
	if got := memoryVolumeSize(runtime.GroupSpec{}, runtime.Volume{}); got != fallbackMemorySize {
		t.Errorf("a group without memory: %d", got)
	}
}

// The fsGroup is a supplementary group of every container, after the
// container's own.
func TestWithFSGroup(t *testing.T) {
	sc := &runtimeapi.LinuxContainerSecurityContext{SupplementalGroups: []int64{5}}
	withFSGroup(sc, runtime.GroupSpec{})
	if len(sc.SupplementalGroups) != 1 {
		t.Errorf("without fsGroup: %v", sc.SupplementalGroups)
	}
	g := int64(2000)
	withFSGroup(sc, runtime.GroupSpec{FSGroup: &g})
	if len(sc.SupplementalGroups) != 2 || sc.SupplementalGroups[1] != 2000 {
		t.Errorf("with fsGroup: %v", sc.SupplementalGroups)
	}
}
