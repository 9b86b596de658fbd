package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/syncbuf"
)

// burster prints 60 numbered lines of about 100 bytes each time /tmp/burst
// appears, so that the test decides when the log grows.
const burster = `i=0; pad=$(printf '%090d' 0); while :; do if [ -e /tmp/burst ]; then rm /tmp/burst; n=0; ` +
	`while [ $n -lt 60 ]; do i=$((i+1)); n=$((n+1)); echo "line $i $pad"; done; fi; sleep 0.05; done`

// numbered checks that out holds the lines from..to of the burster, in order.
func numbered(out string, from, to int) error {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != to-from+1 {
		return fmt.Errorf("%d lines, want %d (%d to %d)", len(lines), to-from+1, from, to)
	}
	for i, l := range lines {
		if f := strings.Fields(l); len(f) != 3 || f[1] != fmt.Sprint(from+i) {
			return fmt.Errorf("line %d is %.40q, want line %d", i, l, from+i)
		}
	}
	return nil
}

// On containerd: a container's log past its max size is rotated (containerd
// reopens it), keeps at most LogMaxFiles files, and reads on across the
// rotations: a tail reaching into the rotated and compressed files, and a
// follower that sees every line once, in order.
func TestLogRotationOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t, func(o *Options) {
		o.LogMaxSize, o.LogMaxFiles = 4096, 3
		o.LogCheckInterval = time.Hour // the test drives rotation
	})
	ctx := context.Background()
	if err := r.Run(ctx, runtime.GroupSpec{ID: "g-logs", Name: "logs", Containers: []runtime.ContainerSpec{
		{Name: "talk", Image: w.shell, Command: []string{"/bin/sh", "-c", burster}}}}); err != nil {
		t.Fatal(err)
	}
	followCtx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	var followed syncbuf.Buffer
	followEnded := make(chan error, 1)
	go func() {
		followEnded <- r.Logs(followCtx, "g-logs", "talk", runtime.LogOptions{Follow: true}, &followed)
	}()

	dir := filepath.Dir(r.logPath("g-logs", "talk", 0))
	burst := func(last int) {
		t.Helper()
		if _, code := execOut(t, r, "g-logs", "talk", "touch", "/tmp/burst"); code != 0 {
			t.Fatalf("touch /tmp/burst: exit %d", code)
		}
		waitFor(t, fmt.Sprintf("line %d", last), func() (bool, string) {
			var buf strings.Builder
			err := r.Logs(ctx, "g-logs", "talk", runtime.LogOptions{Tail: 1}, &buf)
			return err == nil && strings.HasPrefix(buf.String(), fmt.Sprintf("line %d ", last)), buf.String()
		})
	}
	// A follower that falls more than LogMaxFiles rotations behind loses
	// what was removed meanwhile (as the kubelet's does): each rotation
	// waits until it has read the lines so far.
	caughtUp := func(last int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("the follower to reach line %d", last), func() (bool, string) {
			return strings.Contains(followed.String(), fmt.Sprintf("line %d ", last)),
				fmt.Sprint(strings.Count(followed.String(), "\n"), " lines")
		})
	}
	for round, files := range []int{2, 3, 3, 3} {
		burst(60 * (round + 1))
		caughtUp(60 * (round + 1))
		r.rotateLogs(ctx)
		if got := layout(t, dir); len(got) != files || got[0] != "0.log" {
			t.Fatalf("after rotation %d: %v, want 0.log and %d rotated files", round+1, got, files-1)
		}
	}
	// Lines 1-120 went with the removed files; 121-180 are compressed.
	if got := layout(t, dir); !strings.HasSuffix(got[1], ".gz") || strings.HasSuffix(got[2], ".gz") {
		t.Errorf("the older rotated file compressed, the newer plain: %v", got)
	}
	var buf strings.Builder
	if err := r.Logs(ctx, "g-logs", "talk", runtime.LogOptions{Tail: 100}, &buf); err != nil {
		t.Fatal(err)
	}
	if err := numbered(buf.String(), 141, 240); err != nil {
		t.Errorf("tail 100 across the rotated files: %v", err)
	}
	buf.Reset()
	if err := r.Logs(ctx, "g-logs", "talk", runtime.LogOptions{}, &buf); err != nil {
		t.Fatal(err)
	}
	if err := numbered(buf.String(), 121, 240); err != nil {
		t.Errorf("the whole log kept: %v", err)
	}

	burst(300) // into the file containerd reopened
	caughtUp(300)
	stopFollowing()
	if err := <-followEnded; err != nil {
		t.Errorf("follow: %v", err)
	}
	if err := numbered(followed.String(), 1, 300); err != nil {
		t.Errorf("followed across 4 rotations: %v", err)
	}

	if err := r.Remove(ctx, "g-logs", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the logs outlived their group: %v", err)
	}
}
