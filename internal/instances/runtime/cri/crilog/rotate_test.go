package crilog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// writer stands for containerd: it appends records to the log's current
// file and makes a new one when reopened.
type writer struct {
	t       *testing.T
	path    string
	n       int
	reopens int
	fail    error
}

func (w *writer) write(records int) {
	w.t.Helper()
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	for range records {
		w.n++
		fmt.Fprintf(f, "%s stdout F record %d\n", t0.Add(time.Duration(w.n)*time.Second).Format(time.RFC3339Nano), w.n)
	}
}

func (w *writer) reopen(context.Context) error {
	w.reopens++
	if w.fail != nil {
		return w.fail
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}

// names lists dir, with rotation times shortened to their seconds.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.Replace(e.Name(), ".000000000", "", 1))
	}
	sort.Strings(out)
	return out
}

func readLog(t *testing.T, path string, o Options) string {
	t.Helper()
	fs, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	var buf bytes.Buffer
	if err := NewWriter(&buf, o).WriteLog(fs.Sources()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// Each round over the size rotates; the log keeps MaxFiles files, the
// newest rotated one plain and the older ones compressed, and reads on as
// one log.
func TestRotateKeepsMaxFiles(t *testing.T) {
	dir := t.TempDir()
	w := &writer{t: t, path: filepath.Join(dir, "0.log")}
	p := Policy{MaxSize: 100, MaxFiles: 3}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	rotate := func() bool {
		t.Helper()
		now = now.Add(10 * time.Second)
		done, err := Rotate(context.Background(), w.path, now, p, w.reopen)
		if err != nil {
			t.Fatal(err)
		}
		return done
	}
	w.write(2) // 78 bytes
	if rotate() || w.reopens != 0 {
		t.Fatalf("a log under its max size was rotated")
	}
	for round := 1; round <= 4; round++ {
		w.write(3)
		if !rotate() {
			t.Fatalf("round %d: not rotated", round)
		}
	}
	w.write(1)
	want := []string{"0.log", "0.log.20261128-100040.gz", "0.log.20261128-100050"}
	if got := names(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after 4 rotations: %v, want %v", got, want)
	}
	w.write(3)
	rotate()
	want = []string{"0.log", "0.log.20261128-100050.gz", "0.log.20261128-100100"}
	if got := names(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after 5 rotations: %v, want %v", got, want)
	}
	// Records 1-11 went with the removed files; 12-14 are in the gzip.
	if got := readLog(t, w.path, Options{Tail: 100}); !strings.HasPrefix(got, "record 12\n") || !strings.HasSuffix(got, "record 18\n") ||
		strings.Count(got, "\n") != 7 {
		t.Errorf("the log across its files: %q", got)
	}
	if got := readLog(t, w.path, Options{Tail: 6}); got != "record 13\nrecord 14\nrecord 15\nrecord 16\nrecord 17\nrecord 18\n" {
		t.Errorf("a tail into the compressed file: %q", got)
	}
	if err := Remove(w.path); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("Remove left %v", got)
	}
}

// A failed reopen puts the file back; a missing file is reopened; what an
// interrupted compression left goes at the next rotation.
func TestRotateRecovers(t *testing.T) {
	dir := t.TempDir()
	w := &writer{t: t, path: filepath.Join(dir, "0.log")}
	p := Policy{MaxSize: 1, MaxFiles: 5}
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	w.write(1)
	w.fail = errors.New("no such container")
	if done, err := Rotate(context.Background(), w.path, now, p, w.reopen); done || !errors.Is(err, w.fail) {
		t.Fatalf("a failed reopen: %v, %v", done, err)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != "0.log" {
		t.Errorf("after a failed reopen: %v", got)
	}
	w.fail = nil
	if err := os.Rename(w.path, w.path+".20261128-095959.000000000"); err != nil {
		t.Fatal(err)
	}
	if done, err := Rotate(context.Background(), w.path, now, p, w.reopen); done || err != nil || w.reopens != 2 {
		t.Fatalf("a missing log: %v, %v, %d reopens", done, err, w.reopens)
	}
	for _, leftover := range []string{"0.log.20261128-095958.000000000.tmp", "0.log.20261128-095957.000000000",
		"0.log.20261128-095957.000000000.gz"} {
		if err := os.WriteFile(filepath.Join(dir, leftover), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.write(1)
	if done, err := Rotate(context.Background(), w.path, now, p, w.reopen); !done || err != nil {
		t.Fatalf("rotation: %v, %v", done, err)
	}
	want := []string{"0.log", "0.log.20261128-095957.gz", "0.log.20261128-095959.gz", "0.log.20261128-100000"}
	if got := names(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after recovering: %v, want %v", got, want)
	}
	w.write(1)
	if _, err := Rotate(context.Background(), w.path, now, p, w.reopen); err == nil {
		t.Errorf("a second rotation at the same time overwrote the first")
	}
}

func TestPolicyCheck(t *testing.T) {
	for _, p := range []Policy{{MaxSize: 0, MaxFiles: 5}, {MaxSize: 10, MaxFiles: 1}} {
		if p.Check() == nil {
			t.Errorf("%+v passed", p)
		}
	}
	if err := (Policy{MaxSize: 10 << 20, MaxFiles: 5}).Check(); err != nil {
		t.Error(err)
	}
}
