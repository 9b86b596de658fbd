package memory

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	utilexec "k8s.io/utils/exec"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
)

// runningPod creates a pod on a fake clock and waits until it runs.
func runningPod(t *testing.T, uid string) (*Backend, *clocktesting.FakeClock, backend.PodRef) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	b, err := New(Config{RestartBackOff: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	r := subscribe(t, b)
	pod := testPod(uid, nil)
	env := map[string][]backend.EnvVar{"app": {{Name: "GREETING", Value: "hi"}}}
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod, Env: env}); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	r.waitState(t, "running", running)
	return b, clk, backend.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name}
}

func logs(t *testing.T, b *Backend, ref backend.PodRef, container string, opts backend.LogOptions) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := b.Logs(context.Background(), ref, container, opts, &out)
	return out.String(), err
}

func TestLogs(t *testing.T) {
	b, clk, ref := runningPod(t, "l1")
	start := clk.Now()
	all, err := logs(t, b, ref, "app", backend.LogOptions{})
	want := "starting container app (image hello)\nrun 1 of pod ns/p-l1\nready\n"
	if err != nil || all != want {
		t.Fatalf("logs = %q, %v; want %q", all, err, want)
	}
	tests := []struct {
		name string
		opts backend.LogOptions
		want string
	}{
		{"tail", backend.LogOptions{TailLines: ptr.To[int64](1)}, "ready\n"},
		{"timestamps", backend.LogOptions{Timestamps: true, TailLines: ptr.To[int64](1)}, "2030-01-02T03:04:05Z ready\n"},
		{"limit", backend.LogOptions{LimitBytes: ptr.To[int64](5)}, "start"},
		{"since after the start", backend.LogOptions{SinceTime: start.Add(time.Second)}, ""},
		{"since the start", backend.LogOptions{SinceTime: start}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logs(t, b, ref, "app", tt.opts)
			if err != nil || got != tt.want {
				t.Errorf("logs = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := logs(t, b, ref, "app", backend.LogOptions{Previous: true}); err == nil {
		t.Error("previous logs of a container that never restarted")
	}
	if _, err := logs(t, b, ref, "nope", backend.LogOptions{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("unknown container: %v", err)
	}
	if _, err := logs(t, b, backend.PodRef{Namespace: "ns", Name: "other"}, "app", backend.LogOptions{}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("unknown pod: %v", err)
	}
	if got, err := logs(t, b, ref, "init", backend.LogOptions{TailLines: ptr.To[int64](1)}); err != nil || got != "exited with code 0\n" {
		t.Errorf("init container logs = %q, %v", got, err)
	}
}

func TestLogsFollowEndsWithTheRunAndPreviousShowsIt(t *testing.T) {
	b, clk, ref := runningPod(t, "l2")
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- b.Logs(context.Background(), ref, "app", backend.LogOptions{Follow: true}, w)
		w.Close()
	}()
	buf := make([]byte, 1024)
	n, err := io.ReadAtLeast(r, buf, len("starting"))
	if err != nil || !strings.HasPrefix(string(buf[:n]), "starting") {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	clk.Step(time.Second)
	if err := b.ExitContainer(ref.UID, "app", 3); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(rest), "exited with code 3\n") {
		t.Errorf("followed log ends with %q", rest)
	}
	// In back-off the last run is still the current one, as the kubelet
	// has it; once restarted, it is the previous one.
	if _, err := logs(t, b, ref, "app", backend.LogOptions{Previous: true}); err == nil {
		t.Error("previous logs before the restart")
	}
	clk.Step(time.Second)
	waitFor(t, "the restart", func() bool {
		cur, err := logs(t, b, ref, "app", backend.LogOptions{TailLines: ptr.To[int64](2)})
		return err == nil && cur == "run 2 of pod ns/p-l2\nready\n"
	})
	prev, err := logs(t, b, ref, "app", backend.LogOptions{Previous: true, TailLines: ptr.To[int64](1)})
	if err != nil || prev != "exited with code 3\n" {
		t.Errorf("previous = %q, %v", prev, err)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExec(t *testing.T) {
	b, _, ref := runningPod(t, "e1")
	tests := []struct {
		name           string
		cmd            []string
		stdin          string
		stdout, stderr string
		code           int
	}{
		{name: "echo", cmd: []string{"echo", "a", "b"}, stdout: "a b\n"},
		{name: "cat", cmd: []string{"cat"}, stdin: "in\n", stdout: "in\n"},
		{name: "env", cmd: []string{"env"}, stdout: "GREETING=hi\n"},
		{name: "hostname", cmd: []string{"hostname"}, stdout: "p-e1\n"},
		{name: "exit", cmd: []string{"exit", "3"}, code: 3},
		{name: "shell", cmd: []string{"sh", "-c", "echo x; echoerr y; exit 4; echo z"}, stdout: "x\n", stderr: "y\n", code: 4},
		{name: "unknown", cmd: []string{"nope"}, stderr: "nope: command not found\n", code: 127},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := b.Exec(context.Background(), ref, "app", tt.cmd, backend.Streams{Stdin: strings.NewReader(tt.stdin), Stdout: &stdout, Stderr: &stderr})
			code := 0
			var exitErr utilexec.ExitError
			if errors.As(err, &exitErr) {
				code = exitErr.ExitStatus()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || stdout.String() != tt.stdout || stderr.String() != tt.stderr {
				t.Errorf("code %d stdout %q stderr %q", code, stdout.String(), stderr.String())
			}
		})
	}
	if err := b.Exec(context.Background(), ref, "init", []string{"true"}, backend.Streams{}); err == nil {
		t.Error("exec in a terminated init container")
	}
}

func TestAttachAndPortForwardEcho(t *testing.T) {
	b, _, ref := runningPod(t, "a1")
	var out bytes.Buffer
	if err := b.Attach(context.Background(), ref, "app", backend.Streams{Stdin: strings.NewReader("hello\n"), Stdout: &out}); err != nil || out.String() != "hello\n" {
		t.Errorf("attach echoed %q, %v", out.String(), err)
	}
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.PortForward(context.Background(), ref, 8080, server) }()
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "ping" {
		t.Errorf("port-forward echoed %q, %v", buf, err)
	}
	client.Close()
	if err := <-done; err != nil {
		t.Errorf("PortForward: %v", err)
	}
}

func TestStatsGrowWithRunningTime(t *testing.T) {
	b, clk, ref := runningPod(t, "s1")
	first, err := b.Stats(context.Background())
	if err != nil || len(first) != 1 || first[0].Pod != ref || len(first[0].Containers) != 1 {
		t.Fatalf("Stats = %+v, %v", first, err)
	}
	c := first[0].Containers[0]
	if c.UsageNanoCores == 0 || c.UsageCoreNanoSeconds == 0 || c.WorkingSetBytes == 0 {
		t.Errorf("zero usage: %+v", c)
	}
	clk.Step(10 * time.Second)
	later, _ := b.Stats(context.Background())
	if l := later[0].Containers[0]; l.UsageCoreNanoSeconds <= c.UsageCoreNanoSeconds || l.WorkingSetBytes <= c.WorkingSetBytes {
		t.Errorf("usage did not grow: %+v then %+v", c, l)
	}
}
