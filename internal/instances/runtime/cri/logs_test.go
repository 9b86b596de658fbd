package cri

import (
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
	"github.com/vnode-io/vnode/internal/syncbuf"
)

// A follower moves on to the new file when the log is rotated, after
// reading what containerd wrote to the old one after the rename; it ends
// once the container has stopped.
func TestFollowAcrossRotation(t *testing.T) {
	cri := &fakeCRI{running: []string{"c-main"}}
	r, clk := withCRI(t, cri, map[string]uint32{"main": 0})
	path := r.logPath("g1", "main", 0)
	appendLines(t, path, "1", "2", "3")
	var out syncbuf.Buffer
	ended := make(chan error, 1)
	go func() {
		ended <- r.Logs(context.Background(), "g1", "main", runtime.LogOptions{Tail: 2, Follow: true}, &out)
	}()
	has := func(s string) func() bool { return func() bool { return strings.HasSuffix(out.String(), s) } }
	until(t, clk, followInterval, "the tail", has("2\n3\n"))
	appendLines(t, path, "4")
	rotated := path + "." + clk.Now().UTC().Format("20060102-150405.000000000")
	reopen := func(ctx context.Context) error {
		appendLines(t, rotated, "5") // a line finished after the rename
		_, err := cri.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: "c-main"})
		return err
	}
	if ok, err := crilog.Rotate(context.Background(), path, clk.Now(), r.o.logPolicy(), reopen); !ok || err != nil {
		t.Fatalf("rotate: %v %v", ok, err)
	}
	appendLines(t, path, "6")
	until(t, clk, followInterval, "the new file's line", has("6\n"))
	r.mu.Lock()
	r.groups["g1"].mains[0].status.Current.State = runtime.StateTerminated
	r.mu.Unlock()
	until(t, clk, followInterval, "the end of the stream", func() bool { return len(ended) == 1 })
	if err := <-ended; err != nil || out.String() != "2\n3\n4\n5\n6\n" {
		t.Errorf("followed: %q, %v", out.String(), err)
	}
	if got := strings.Join(layout(t, filepath.Dir(path)), " "); got != "0.log "+filepath.Base(rotated) {
		t.Errorf("log files: %s", got)
	}
}

// The current and the previous attempt's logs are read across their
// rotated files, compressed or not.
func TestLogsAcrossRotatedFiles(t *testing.T) {
	r, _ := withCRI(t, &fakeCRI{}, map[string]uint32{"main": 1})
	prev, cur := r.logPath("g1", "main", 0), r.logPath("g1", "main", 1)
	appendLines(t, prev+".20261128-090000.000000000", "p1", "p2")
	appendLines(t, prev, "p3")
	appendLines(t, cur+".20261128-090000.000000000", "1", "2")
	appendLines(t, cur+".20261128-090010.000000000", "3")
	gzipFile(t, cur+".20261128-090000.000000000")
	appendLines(t, cur, "4")
	for _, tc := range []struct {
		o    runtime.LogOptions
		want string
	}{
		{runtime.LogOptions{Previous: true, Tail: 2}, "p2\np3\n"},
		{runtime.LogOptions{Tail: 2}, "3\n4\n"},
		{runtime.LogOptions{}, "1\n2\n3\n4\n"},
	} {
		var buf strings.Builder
		if err := r.Logs(context.Background(), "g1", "main", tc.o, &buf); err != nil || buf.String() != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.o, buf.String(), err, tc.want)
		}
	}
}

// Step by step: a follower notices the rotation, reads the old file once
// more (containerd may finish a line there meanwhile) and only then the new
// one; a rotation undone (the file renamed back) reads nothing twice; two
// rotations between steps skip nothing.
func TestFollowerSteps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	rotated := func(s string) string { return path + ".20261128-1000" + s + ".000000000" }
	appendLines(t, path, "1")
	fs, err := crilog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	f := &follower{path: path, lw: crilog.NewWriter(&out, crilog.Options{})}
	f.adopt(fs)
	defer f.close()
	lines := "1\n" // WriteLog's, below
	step := func(moving bool, add ...string) {
		t.Helper()
		if err := f.step(); err != nil {
			t.Fatal(err)
		}
		for _, l := range add {
			lines += l + "\n"
		}
		if out.String() != lines || f.moving != moving {
			t.Fatalf("after a step: %q, moving %v; want %q, %v", out.String(), f.moving, lines, moving)
		}
	}
	if err := f.lw.WriteLog(fs.Sources()); err != nil {
		t.Fatal(err)
	}
	step(false)
	for _, move := range [][2]string{{path, rotated("00")}, {rotated("00"), path}} { // rotated, then undone
		if err := os.Rename(move[0], move[1]); err != nil {
			t.Fatal(err)
		}
		step(move[0] == path)
	}
	step(false)
	if err := os.Rename(path, rotated("00")); err != nil {
		t.Fatal(err)
	}
	appendLines(t, rotated("00"), "2")
	step(true, "2")
	appendLines(t, path) // containerd reopened: a new, empty file
	appendLines(t, rotated("00"), "3")
	step(false, "3")
	appendLines(t, path, "4")
	step(false, "4")

	// Rotated twice before the follower's next look: 5 is in a file it
	// never had open.
	if err := os.Rename(path, rotated("10")); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "5")
	if err := os.Rename(path, rotated("20")); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "6")
	step(true)
	step(false, "5", "6")
	appendLines(t, path, "7")
	step(false, "7")
}

// gzipFile replaces a file with its gzip, as rotation compresses older files.
func gzipFile(t *testing.T, name string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(name + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}
