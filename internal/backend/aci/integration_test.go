package aci_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilexec "k8s.io/utils/exec"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci"
	"github.com/vnode-io/vnode/internal/instances/app/apptest"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/wire"
)

const (
	testToken = "test-token-5e2a9c41"
	testSub   = "00000000-0000-0000-0000-0000000ac1be"
	testNode  = "vnode-test"
)

// startService runs the container instances service in process on the
// fake runtime and returns its client files.
func startService(t *testing.T, mutate func(*config.Config)) wire.ClientFiles {
	t.Helper()
	_, files := apptest.Start(t, testToken, testSub, func(cfg *config.Config) {
		cfg.RateLimits = config.RateLimits{}
		cfg.Locations = []config.Location{config.DefaultLocationSpec("local")}
		if mutate != nil {
			mutate(cfg)
		}
	})
	return files
}

// recorder keeps the states a backend pushes.
type recorder struct {
	mu     sync.Mutex
	states map[types.UID][]*backend.PodState
}

func (r *recorder) add(st *backend.PodState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states[st.UID] = append(r.states[st.UID], st)
}

// waitFor waits until some pushed state of uid satisfies cond.
func (r *recorder) waitFor(t *testing.T, uid types.UID, what string, cond func(*backend.PodState) bool) *backend.PodState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		states := append([]*backend.PodState(nil), r.states[uid]...)
		r.mu.Unlock()
		for _, st := range states {
			if cond(st) {
				return st
			}
		}
		if time.Now().After(deadline) {
			var last any = "none"
			if len(states) > 0 {
				last = *states[len(states)-1]
			}
			t.Fatalf("timed out waiting for %s; last state: %+v", what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newBackend(t *testing.T, files wire.ClientFiles, mutate ...func(*aci.Config)) (*aci.Backend, *recorder) {
	t.Helper()
	cfg, err := aci.FromFiles(files, testNode)
	if err != nil {
		t.Fatal(err)
	}
	cfg.FastPoll, cfg.SlowPoll, cfg.SteadyRefresh = 50*time.Millisecond, 300*time.Millisecond, time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := aci.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = b.Close()
	})
	rec := &recorder{states: map[types.UID][]*backend.PodState{}}
	b.Subscribe(ctx, rec.add)
	return b, rec
}

func workload(name string, cpu string) *backend.Workload {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
			CreationTimestamp: metav1.Now()},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "vnode/hello:1",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("1G")}}}}},
	}
	return &backend.Workload{Pod: pod, Env: map[string][]backend.EnvVar{"main": {{Name: "A", Value: "1"}, {Name: "S", Value: "x", Secret: true}}}}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func running(st *backend.PodState) bool {
	return len(st.Containers) == 1 && st.Containers[0].State == backend.Running && st.IP != ""
}

func TestBackendEndToEnd(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	if err := b.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}
	capacity, err := b.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pods := capacity[corev1.ResourcePods]; pods.Value() != 100 {
		t.Errorf("pods capacity = %s, want the ContainerGroups quota 100", pods.String())
	}

	w := workload("web", "500m")
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := b.Create(ctx, w); err != nil {
		t.Fatalf("a repeated create should succeed: %v", err)
	}
	st := rec.waitFor(t, w.Pod.UID, "Running with an IP", running)
	if !st.Containers[0].Ready {
		t.Errorf("running container not ready: %+v", st.Containers[0])
	}
	rec.waitFor(t, w.Pod.UID, "a Started event", func(st *backend.PodState) bool {
		for _, e := range st.Events {
			if e.Reason == "Started" && e.Container == "main" {
				return true
			}
		}
		return false
	})
	ref := backend.PodRef{UID: w.Pod.UID, Namespace: "default", Name: "web"}

	var out bytes.Buffer
	if err := b.Exec(ctx, ref, "main", []string{"echo", "hello"}, backend.Streams{Stdout: &out}); err != nil {
		t.Fatalf("exec echo: %v", err)
	}
	if !strings.Contains(out.String(), "hello") {
		t.Errorf("exec output = %q", out.String())
	}
	err = b.Exec(ctx, ref, "main", []string{"exit", "3"}, backend.Streams{Stdout: io.Discard})
	var exitErr utilexec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Errorf("exec exit 3: err = %v, want an ExitError with code 3", err)
	}

	var logs bytes.Buffer
	if err := b.Logs(ctx, ref, "main", backend.LogOptions{}, &logs); err != nil {
		t.Fatalf("logs: %v", err)
	}
	if !strings.Contains(logs.String(), "started") {
		t.Errorf("logs = %q", logs.String())
	}
	if _, err := b.Stats(ctx); err != nil {
		t.Errorf("stats: %v", err)
	}

	// A second backend (an agent restart) adopts the group.
	b2, _ := newBackend(t, files)
	states, err := b2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].UID != w.Pod.UID || !running(states[0]) {
		t.Fatalf("adopted %+v, want the running pod", states)
	}

	if err := b.Delete(ctx, w.Pod.UID, time.Second); err != nil {
		t.Fatalf("delete: %v", err)
	}
	rec.waitFor(t, w.Pod.UID, "every container terminated", (*backend.PodState).AllTerminated)
	deadline := time.Now().Add(30 * time.Second)
	for {
		states, err := b.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group is still listed: %+v", states)
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := files.ClientFactory(-1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewContainerGroupsClient().Get(ctx, "rg", aci.GroupName("default", "web"), nil); err == nil {
		t.Errorf("the group still exists after the delete")
	}
}

func TestBackendRefusesPodsBeyondCapabilities(t *testing.T) {
	files := startService(t, nil)
	b, _ := newBackend(t, files)
	err := b.Create(testContext(t), workload("huge", "5"))
	if err == nil || errors.Is(err, backend.ErrRetryable) || !strings.Contains(err.Error(), "maxCpu") {
		t.Fatalf("err = %v, want a final error naming maxCpu", err)
	}
}

func TestBackendRetriesThrottledWrites(t *testing.T) {
	files := startService(t, func(c *config.Config) {
		c.RateLimits = config.RateLimits{WritesPerSecond: 1, WriteBurst: 1}
	})
	b, rec := newBackend(t, files)
	ctx := testContext(t)
	for _, name := range []string{"a", "b", "c"} {
		if err := b.Create(ctx, workload(name, "1")); err != nil {
			t.Fatalf("create %s under a write limit of 1/s: %v", name, err)
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		rec.waitFor(t, types.UID("uid-"+name), name+" running", running)
	}
}

// A failed image pull shows ErrImagePull, then ImagePullBackOff while the
// backend waits, and the group is deployed again after the back-off (a
// second failure brings a second BackOff event).
func TestBackendRetriesImagePulls(t *testing.T) {
	files := startService(t, nil)
	b, rec := newBackend(t, files, func(c *aci.Config) { c.ImagePullBackOff = 300 * time.Millisecond })
	w := workload("nopull", "1")
	w.Pod.Spec.Containers[0].Image = "example.test/inaccessible:1"
	if err := b.Create(testContext(t), w); err != nil {
		t.Fatal(err)
	}
	reason := func(want string) func(*backend.PodState) bool {
		return func(st *backend.PodState) bool {
			return len(st.Containers) == 1 && st.Containers[0].State == backend.Waiting && st.Containers[0].Reason == want
		}
	}
	st := rec.waitFor(t, w.Pod.UID, "ErrImagePull", reason("ErrImagePull"))
	if !strings.Contains(st.Containers[0].Message, "inaccessible") {
		t.Errorf("ErrImagePull message %q does not name the image", st.Containers[0].Message)
	}
	rec.waitFor(t, w.Pod.UID, "ImagePullBackOff", reason("ImagePullBackOff"))
	backOffs := map[time.Time]bool{} // waitFor looks at every state again each round
	rec.waitFor(t, w.Pod.UID, "a second BackOff event after a retry", func(st *backend.PodState) bool {
		for _, e := range st.Events {
			if e.Reason == "BackOff" && e.Type == corev1.EventTypeWarning {
				backOffs[e.Time] = true
			}
		}
		return len(backOffs) >= 2
	})
}
