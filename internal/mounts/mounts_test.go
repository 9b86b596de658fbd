package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMountPoints(t *testing.T) {
	info := []byte(`22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:50 / /tmp/x/root/a rw - overlay overlay rw
31 22 0:51 / /tmp/x/state/with\040space rw - tmpfs shm rw
32 22 0:52 / /tmp/xy/other rw - tmpfs shm rw
33 22 0:53 / /tmp/x rw - tmpfs t rw
`)
	got := parseMountPoints(info, "/tmp/x")
	want := []string{"/tmp/x/root/a", "/tmp/x/state/with space"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mount points %q, want %q", got, want)
	}
}

func TestTmpfsMountPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	dir := filepath.Join(t.TempDir(), "vol")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if mounted, err := IsMountPoint(dir); err != nil || mounted {
		t.Fatalf("a plain directory: mounted %v, %v", mounted, err)
	}
	if err := MountMemory(dir, 1<<20, 0o1777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(dir) })
	if mounted, err := IsMountPoint(dir); err != nil || !mounted {
		t.Errorf("a tmpfs: mounted %v, %v", mounted, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.TMPFS_MAGIC || st.Blocks*uint64(st.Bsize) != 1<<20 ||
		st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 || st.Flags&unix.ST_NOEXEC != 0 {
		t.Errorf("statfs %+v, %v: want a tmpfs of 1 MiB, nosuid, nodev, exec", st, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o777 || fi.Mode()&os.ModeSticky != 0 {
		t.Errorf("root mode %v, %v: want the permission bits only", fi.Mode(), err)
	}
	if points, err := PointsUnder(filepath.Dir(dir)); err != nil || len(points) != 1 || points[0] != dir {
		t.Errorf("mountinfo lists %v, %v", points, err)
	}
	if err := Unmount(dir); err != nil {
		t.Fatal(err)
	}
	if mounted, err := IsMountPoint(dir); err != nil || mounted {
		t.Errorf("after Unmount: mounted %v, %v", mounted, err)
	}
	if err := Unmount(dir); err != nil {
		t.Errorf("Unmount of a directory with nothing mounted: %v", err)
	}
}
