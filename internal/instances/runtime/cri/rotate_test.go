package cri

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// fakeCRI answers what log rotation asks of CRI: the running containers,
// and reopening a log, which it does as containerd does by creating the
// container's log file anew.
type fakeCRI struct {
	runtimeapi.RuntimeServiceClient
	mu       sync.Mutex
	running  []string
	logs     map[string]string // container id → log path
	reopened []string
}

func (f *fakeCRI) ListContainers(_ context.Context, req *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.GetFilter().GetState().GetState() != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("fakeCRI lists running containers only")
	}
	resp := &runtimeapi.ListContainersResponse{}
	for _, id := range f.running {
		resp.Containers = append(resp.Containers, &runtimeapi.Container{Id: id, State: runtimeapi.ContainerState_CONTAINER_RUNNING})
	}
	return resp, nil
}

func (f *fakeCRI) ReopenContainerLog(_ context.Context, req *runtimeapi.ReopenContainerLogRequest, _ ...grpc.CallOption) (*runtimeapi.ReopenContainerLogResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reopened = append(f.reopened, req.ContainerId)
	if err := os.WriteFile(f.logs[req.ContainerId], nil, 0o640); err != nil {
		return nil, err
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}

func (f *fakeCRI) reopens() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reopened)
}

// withCRI is a runtime on a fake CRI and a fake clock, its loops not
// started, with one group g1 whose containers run at the given attempts.
func withCRI(t *testing.T, cri *fakeCRI, attempts map[string]uint32) (*Runtime, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	o := Options{Runtime: cri, Dir: t.TempDir(), Clock: clk, LogMaxSize: 100, LogMaxFiles: 3,
		Logger: slog.New(slog.DiscardHandler)}
	if err := o.complete(); err != nil {
		t.Fatal(err)
	}
	r := &Runtime{o: o, groups: map[string]*group{}, watchers: map[*watcher]struct{}{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	spec := runtime.GroupSpec{ID: "g1", Name: "g1"}
	for name := range attempts {
		spec.Containers = append(spec.Containers, runtime.ContainerSpec{Name: name})
	}
	g := newGroup(spec)
	g.sandboxID = "sb1"
	cri.logs = map[string]string{}
	for _, c := range g.mains {
		c.id, c.attempt = "c-"+c.spec.Name, attempts[c.spec.Name]
		c.status.Current = runtime.ContainerState{State: runtime.StateRunning}
		cri.logs[c.id] = r.logPath("g1", c.spec.Name, c.attempt)
		if err := os.MkdirAll(filepath.Dir(cri.logs[c.id]), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.groups["g1"] = g
	return r, clk
}

// appendLines writes records to a log file as containerd does.
func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), l)
	}
}

// until steps the clock by d until cond holds, failing after a minute.
func until(t *testing.T, clk *clocktesting.FakeClock, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clk.Step(d)
		time.Sleep(5 * time.Millisecond) // let the loop run
	}
}

// Driven by the clock, the rotation loop rotates a running container's
// log past its size and leaves a stopped container's alone; it keeps the
// logs of the current and the previous attempt only.
func TestRotationLoop(t *testing.T) {
	cri := &fakeCRI{running: []string{"c-main"}}
	r, clk := withCRI(t, cri, map[string]uint32{"main": 2, "done": 0})
	main := filepath.Dir(r.logPath("g1", "main", 0))
	appendLines(t, filepath.Join(main, "0.log"), "attempt 0")
	appendLines(t, filepath.Join(main, "0.log.20261128-090000.000000000.gz"), "attempt 0, rotated")
	appendLines(t, filepath.Join(main, "1.log"), "attempt 1")
	appendLines(t, filepath.Join(main, "2.log"), "attempt 2 says a line", "and another one, past 100 bytes")
	done := r.logPath("g1", "done", 0)
	appendLines(t, done, "a stopped container's log", "is not rotated whatever its size")
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.every(r.o.LogCheckInterval, r.rotateLogs) }()

	until(t, clk, r.o.LogCheckInterval, "the rotation", func() bool { return cri.reopens() == 1 })
	at := clk.Now().UTC().Format("20060102-150405.000000000")
	if got, want := strings.Join(layout(t, main), " "), "1.log 2.log 2.log."+at; got != want {
		t.Errorf("main's logs: %s, want %s", got, want)
	}
	if got := strings.Join(layout(t, filepath.Dir(done)), " "); got != "0.log" {
		t.Errorf("done's logs: %s", got)
	}
}
