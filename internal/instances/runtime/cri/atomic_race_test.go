package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// A container that could write its secret volume plays every trick on the
// writer while UpdateVolumes runs: it swaps each new data directory, the
// "..data" link and the file links for links to a host directory. The
// service never writes, chmods or removes anything there.
func TestUpdateVolumesStaysInTheVolume(t *testing.T) {
	r := offline(t)
	ctx := context.Background()
	spec := runtime.GroupSpec{ID: "g1", Name: "g", Volumes: []runtime.Volume{
		{Name: "creds", Secret: map[string][]byte{"victim": []byte("0")}}}}
	prepared(t, r, spec)
	vol := filepath.Join(r.volumeRoot("g1"), "creds")
	host := t.TempDir()
	victim := filepath.Join(host, "victim")
	if err := os.WriteFile(victim, []byte("host file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(host, 0o700); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		attackVolume(vol, host, stop)
	}()
	const iterations = 3000
	for i := range iterations {
		update := []runtime.Volume{{Name: "creds", Secret: map[string][]byte{"victim": fmt.Appendf(nil, "%d", i+1)}}}
		// The writer may fail while its directory is being tampered
		// with; what matters is where it writes.
		_ = r.UpdateVolumes(ctx, "g1", update)
	}
	close(stop)
	wg.Wait()

	entries, err := os.ReadDir(host)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "victim" {
		t.Errorf("the host directory holds %v", entries)
	}
	if data, err := os.ReadFile(victim); err != nil || string(data) != "host file" {
		t.Errorf("the host file reads %q, %v", data, err)
	}
	for path, want := range map[string]os.FileMode{host: 0o700, victim: 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}

// attackVolume replaces, until stop closes, every data directory, the
// "..data" link and every file link of the volume dir with a link to host.
func attackVolume(dir, host string, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			path := filepath.Join(dir, name)
			switch {
			case e.IsDir() && strings.HasPrefix(name, "..2"):
				moved := fmt.Sprintf("%s/..moved%d", dir, n)
				if os.Rename(path, moved) == nil {
					_ = os.Symlink(host, path)
				}
			case name == dataLink:
				_ = os.Remove(path)
				_ = os.Symlink(host, path)
			case !strings.HasPrefix(name, hiddenPrefix):
				_ = os.Remove(path)
				_ = os.Symlink(filepath.Join(host, name), path)
			}
		}
	}
}
