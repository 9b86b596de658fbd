package cri

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/mounts"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
}

// A subPath resolves beneath its volume: a file (a secret volume's key,
// through its links), a directory created when missing with the root's
// mode, a link within the volume; links a container planted that lead out
// of it — to "/", to "..", to an absolute path — and paths with ".." or
// absolute ones are refused, and nothing is mounted for them. Without the
// resolution beneath the volume, "to-root" would mount the host's "/".
func TestBindSubPath(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	vol, targets := filepath.Join(base, "vol"), filepath.Join(base, "subpaths")
	if err := os.Mkdir(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mounts.UnmountUnder(base) })
	if err := os.WriteFile(filepath.Join(base, "outside"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"to-root": "/", "to-parent": "..", "to-outside": "../outside",
		"abs-outside": filepath.Join(base, "outside"), "in-volume": "data"} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(vol, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "data", "f"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(base, "secret")
	if err := os.Mkdir(secret, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(secret, map[string][]byte{"config.yaml": []byte("key: value")}, fileAttrs{}, time.Now()); err != nil {
		t.Fatal(err)
	}

	target := func(name string) string { return filepath.Join(targets, name) }
	if err := bindSubPath(secret, "config.yaml", target("file")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(target("file")); err != nil || string(data) != "key: value" {
		t.Errorf("the key's file reads %q, %v", data, err)
	}
	if err := bindSubPath(vol, "new/deeper", target("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(vol, "new", "deeper")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("the missing subPath: %v, %v; want a directory of mode 0777", fi, err)
	}
	if err := os.WriteFile(filepath.Join(target("new"), "seen"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(vol, "new", "deeper", "seen")); err != nil {
		t.Errorf("a file written through the mount is not in the volume: %v", err)
	}
	if err := bindSubPath(vol, "in-volume/f", target("link")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(target("link")); err != nil || string(data) != "inside" {
		t.Errorf("through a link within the volume: %q, %v", data, err)
	}
	// Made again, as for a container's next attempt, the mount is not stacked.
	if err := bindSubPath(vol, "in-volume/f", target("link")); err != nil {
		t.Fatal(err)
	}
	if points, _ := mounts.PointsUnder(targets); len(points) != 3 {
		t.Errorf("mounts %q, want 3", points)
	}

	for _, sub := range []string{"to-root", "to-root/etc", "to-parent", "to-outside", "abs-outside", "to-parent/outside",
		"../outside", "data/../../outside", "/etc", "to-root/new-dir"} {
		err := bindSubPath(vol, sub, target("bad"))
		if !errors.Is(err, errSubPath) {
			t.Errorf("subPath %q: %v, want a refusal", sub, err)
		}
		if points, _ := mounts.PointsUnder(targets); len(points) != 3 {
			t.Errorf("subPath %q mounted something: %q", sub, points)
		}
	}
	if _, err := os.Stat("/new-dir"); err == nil {
		t.Errorf("a subPath through a link to / created /new-dir")
	}
}
