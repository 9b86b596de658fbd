package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// Each attempt of a container gets an empty termination message file that
// any user may write, mounted read-write at its path; a container without
// a path gets none.
func TestTerminationMount(t *testing.T) {
	r := offline(t)
	c := runtime.ContainerSpec{Name: "app", TerminationMessagePath: "/dev/termination-log"}
	m, err := r.terminationMount("g1", c)
	if err != nil {
		t.Fatal(err)
	}
	if m.ContainerPath != c.TerminationMessagePath || m.Readonly || !strings.HasPrefix(m.HostPath, r.groupDir("g1")+"/") {
		t.Fatalf("mount %+v", m)
	}
	st, err := os.Stat(m.HostPath)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o666 || st.Size() != 0 {
		t.Fatalf("file %v, %v; want an empty regular file with mode 0666", st, err)
	}
	if err := os.WriteFile(m.HostPath, []byte("first run"), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := r.terminationMount("g1", c); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(m.HostPath); err != nil || len(data) != 0 {
		t.Errorf("the next attempt's file holds %q, %v; want it empty", data, err)
	}
	if m, err := r.terminationMount("g1", runtime.ContainerSpec{Name: "none"}); m != nil || err != nil {
		t.Errorf("a container without a path: %+v, %v", m, err)
	}
	// A link planted in place of the file is not followed.
	target := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(r.terminationDir("g1"), "linked")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.terminationMount("g1", runtime.ContainerSpec{Name: "linked", TerminationMessagePath: "/m"}); err == nil {
		t.Error("a link in place of the file was opened")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("the link's target became %q", data)
	}
}

// Reading a message takes the file's last bytes, never follows a link,
// never blocks on a FIFO and refuses what is not a regular file.
func TestReadTerminationMessage(t *testing.T) {
	r := offline(t)
	if msg, err := r.readTerminationMessage("g1", "app"); msg != "" || err != nil {
		t.Errorf("no directory: %q, %v", msg, err)
	}
	dir := r.terminationDir("g1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if msg, err := r.readTerminationMessage("g1", "app"); msg != "" || err != nil {
		t.Errorf("no file: %q, %v", msg, err)
	}
	long := strings.Repeat("x", 10000) + "END"
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte(long), 0o666); err != nil {
		t.Fatal(err)
	}
	if msg, err := r.readTerminationMessage("g1", "app"); err != nil || msg != long[len(long)-runtime.MaxTerminationMessageBytes:] {
		t.Errorf("a long file: %d bytes, %v; want its last %d", len(msg), err, runtime.MaxTerminationMessageBytes)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if msg, err := r.readTerminationMessage("g1", "link"); err == nil || strings.Contains(msg, "secret") {
		t.Errorf("a link was read: %q, %v", msg, err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o666); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := r.readTerminationMessage("g1", "fifo"); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
}

// writeCRILog writes lines as containerd would to the log of an attempt.
func writeCRILog(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", time.Unix(int64(i), 0).UTC().Format(time.RFC3339Nano), l)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
}

// Under FallbackToLogsOnError a failed container with an empty file gets
// the tail of its attempt's log: its last 80 lines, cut to 2048 bytes.
func TestExitMessageFromLog(t *testing.T) {
	r := offline(t)
	c := runtime.ContainerSpec{Name: "app", TerminationMessagePath: "/dev/termination-log",
		TerminationMessagePolicy: runtime.TerminationMessageFallbackToLogsOnError}
	var short, long []string
	for i := range 100 {
		short = append(short, fmt.Sprintf("line %d", i))
		long = append(long, fmt.Sprintf("%s %d", strings.Repeat("-", 40), i))
	}
	writeCRILog(t, r.logPath("g1", "app", 1), short)
	writeCRILog(t, r.logPath("g1", "app", 2), long)
	if _, err := r.terminationMount("g1", c); err != nil {
		t.Fatal(err)
	}
	exited := func(attempt uint32, code int32) *runtimeapi.ContainerStatus {
		return &runtimeapi.ContainerStatus{Id: "c", State: runtimeapi.ContainerState_CONTAINER_EXITED, ExitCode: code,
			StartedAt: 1, Metadata: &runtimeapi.ContainerMetadata{Name: "app", Attempt: attempt}}
	}
	if got, want := r.exitMessage("g1", c, exited(1, 1)), strings.Join(short[20:], "\n")+"\n"; got != want {
		t.Errorf("80 short lines: %q, want %q", got, want)
	}
	got := r.exitMessage("g1", c, exited(2, 1))
	if len(got) != runtime.MaxTerminationLogBytes || !strings.HasSuffix(got, long[99]+"\n") {
		t.Errorf("long lines: %d bytes ending %q", len(got), got[max(0, len(got)-50):])
	}
	if got := r.exitMessage("g1", c, exited(1, 0)); got != "" {
		t.Errorf("a success has no message from the log: %q", got)
	}
	if got := r.exitMessage("g1", c, exited(7, 1)); got != "" {
		t.Errorf("an attempt without a log: %q", got)
	}
	if err := os.WriteFile(filepath.Join(r.terminationDir("g1"), "app"), []byte("written"), 0o666); err != nil {
		t.Fatal(err)
	}
	if got := r.exitMessage("g1", c, exited(1, 1)); got != "written" {
		t.Errorf("a written file: %q", got)
	}
}

// On containerd each container writes its own file as any user, the
// message of an attempt survives as the previous state's after a restart,
// and each attempt starts with an empty file.
func TestTerminationMessagesOnContainerd(t *testing.T) {
	w := setup(t)
	r := w.runtime(t)
	ctx := context.Background()
	user := int64(1000)
	sh := func(name, script, path, policy string) runtime.ContainerSpec {
		return runtime.ContainerSpec{Name: name, Image: w.shell, Command: []string{"/bin/sh", "-c", script},
			TerminationMessagePath: path, TerminationMessagePolicy: policy}
	}
	custom := sh("custom", "printf custom > /tmp/message", "/tmp/message", "")
	custom.SecurityContext = &runtime.SecurityContext{RunAsUser: &user}
	jobs := runtime.GroupSpec{ID: "g-msg", Name: "msg", RestartPolicy: runtime.RestartNever,
		InitContainers: []runtime.ContainerSpec{sh("init", "printf init-done > /dev/termination-log", "/dev/termination-log", "")},
		Containers: []runtime.ContainerSpec{
			sh("done", "printf DONE > /dev/termination-log", "/dev/termination-log", runtime.TerminationMessageFile),
			custom,
			sh("fallback", "echo one; echo two; exit 1", "/dev/termination-log", runtime.TerminationMessageFallbackToLogsOnError),
			sh("empty", "echo ignored; exit 1", "/dev/termination-log", runtime.TerminationMessageFile),
			sh("none", "test -e /dev/termination-log || echo absent; exit 2", "", runtime.TerminationMessageFallbackToLogsOnError),
		}}
	if err := r.Run(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"init": "init-done", "done": "DONE", "custom": "custom", "fallback": "one\ntwo\n", "empty": "",
		"none": "absent\n"}
	for name, msg := range want {
		waitFor(t, name+" to end with its message", func() (bool, string) {
			c := state(t, r, "g-msg", name)
			return c.Current.State == runtime.StateTerminated && c.Current.Message == msg, fmt.Sprintf("%+v", c.Current)
		})
	}
	// Every attempt appends to its file: an empty file at each start
	// leaves one mark per message.
	again := runtime.GroupSpec{ID: "g-again", Name: "again", RestartPolicy: runtime.RestartOnFailure,
		Containers: []runtime.ContainerSpec{sh("job", "printf x >> /dev/termination-log; exit 1", "/dev/termination-log", "")}}
	if err := r.Run(ctx, again); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job's message as its previous state's", func() (bool, string) {
		c := state(t, r, "g-again", "job")
		return c.RestartCount >= 1 && c.Previous != nil && c.Previous.Message == "x" &&
			c.Current.State == runtime.StateTerminated && c.Current.Message == "x", fmt.Sprintf("%+v", c)
	})
	if err := r.Remove(ctx, "g-again", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.terminationDir("g-again")); !os.IsNotExist(err) {
		t.Errorf("the files of a removed group: %v", err)
	}
}
