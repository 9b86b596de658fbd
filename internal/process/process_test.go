package process

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMain(m *testing.M) {
	// Helper mode: start a long sleep as a child, print its pid and wait
	// to be killed. Used by TestChildDiesWithParent.
	if os.Getenv("PROCESS_TEST_PARENT") != "" {
		dir := os.Getenv("PROCESS_TEST_PARENT")
		p, err := Start(Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"300"}, LogPath: filepath.Join(dir, "sleeper.log")})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {}
	}
	os.Exit(m.Run())
}

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	pidPath := filepath.Join(dir, "run", "sleep.pid")
	p, err := Start(Spec{
		Name:    "sleep",
		Path:    "/bin/sh",
		Args:    []string{"-c", "echo hello from $GREETING; exec sleep 300"},
		Env:     []string{"GREETING=test"},
		LogPath: filepath.Join(dir, "logs", "sleep.log"),
		PidPath: pidPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := ReadPid(pidPath)
	if err != nil || pid != p.Pid() {
		t.Fatalf("pid file: %d, %v; want %d", pid, err, p.Pid())
	}
	// Until the child has exec'd, its command line is still the parent's.
	waitFor(t, "the child to exec", 5*time.Second, func() bool { return Running(pid, "sleep") })
	if Running(pid, "some-other-program") {
		t.Error("Running matched a process by the wrong marker")
	}
	waitFor(t, "log output", 5*time.Second, func() bool { return strings.Contains(Tail(p.LogPath(), 5), "hello from test") })

	p.Stop(5 * time.Second)
	if !p.Exited() || Running(pid, "") {
		t.Fatal("process still running after Stop")
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	p.Stop(time.Second) // stopping again is fine
}

func TestStopKillsProcessIgnoringSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	p, err := Start(Spec{
		Name:    "stubborn",
		Path:    "/bin/sh",
		Args:    []string{"-c", "trap '' TERM; touch " + ready + "; while true; do sleep 1; done"},
		LogPath: filepath.Join(dir, "stubborn.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "trap installed", 5*time.Second, func() bool { _, err := os.Stat(ready); return err == nil })
	p.Stop(200 * time.Millisecond)
	if ws, ok := p.Err().(*exec.ExitError); !ok || ws.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("process ended with %v, want SIGKILL", p.Err())
	}
}

func TestChildDiesWithParent(t *testing.T) {
	dir := t.TempDir()
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), "PROCESS_TEST_PARENT="+dir)
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read child pid: %v", err)
	}
	childPid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	waitFor(t, "the child to exec sleep", 5*time.Second, func() bool { return Running(childPid, "sleep") })
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// The orphaned child is reparented and reaped by init or a subreaper;
	// until then it may linger as a zombie, which Running treats as gone.
	waitFor(t, "child to die with its parent", 10*time.Second, func() bool { return !Running(childPid, "sleep") })
}

func TestTerminate(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Name: "sleep", Path: "/bin/sleep", Args: []string{"301"}, LogPath: filepath.Join(dir, "log")})
	if err != nil {
		t.Fatal(err)
	}
	// Until the child has exec'd, its command line is still the parent's.
	waitFor(t, "the child to exec sleep", 5*time.Second, func() bool { return Running(p.Pid(), "301") })
	Terminate(p.Pid(), "301", 5*time.Second)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Terminate did not end the process")
	}
}

func TestReadPid(t *testing.T) {
	dir := t.TempDir()
	if pid, err := ReadPid(filepath.Join(dir, "absent")); pid != 0 || err != nil {
		t.Errorf("absent pid file: %d, %v", pid, err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPid(bad); err == nil {
		t.Error("a pid file without a number was accepted")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 3); got != "line 98\nline 99\nline 100" {
		t.Errorf("Tail = %q", got)
	}
	if got := Tail(filepath.Join(t.TempDir(), "none"), 3); got != "" {
		t.Errorf("Tail of a missing file = %q", got)
	}
}
