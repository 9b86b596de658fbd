package memory

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/backend"
)

// recorder collects pushed states.
type recorder struct {
	mu     sync.Mutex
	states []*backend.PodState
	signal chan struct{}
}

func subscribe(t *testing.T, b *Backend) *recorder {
	t.Helper()
	r := &recorder{signal: make(chan struct{}, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b.Subscribe(ctx, func(s *backend.PodState) {
		r.mu.Lock()
		r.states = append(r.states, s)
		r.mu.Unlock()
		r.signal <- struct{}{}
	})
	return r
}

// waitState waits for a pushed state that satisfies cond.
func (r *recorder) waitState(t *testing.T, what string, cond func(*backend.PodState) bool) *backend.PodState {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, s := range r.states {
			if cond(s) {
				r.mu.Unlock()
				return s
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("no pushed state shows %s", what)
		}
	}
}

func testPod(uid string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p-" + uid, Namespace: "ns", UID: types.UID(uid), Annotations: annotations},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "hello"}},
			RestartPolicy:  corev1.RestartPolicyAlways,
		},
	}
}

func running(s *backend.PodState) bool {
	return len(s.Containers) == 1 && s.Containers[0].State == backend.Running
}

func TestLifecycle(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	b, err := New(Config{StartDelay: 2 * time.Second, StopDelay: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	r := subscribe(t, b)
	pod := testPod("u1", nil)
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	// The container waits for its init container, as PodInitializing.
	first := r.waitState(t, "PodInitializing", func(s *backend.PodState) bool {
		return s.Containers[0].Reason == backend.ReasonPodInitializing
	})
	if first.IP != "" {
		t.Errorf("IP %q before start", first.IP)
	}
	// A repeated Create is idempotent.
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil || b.Creates() != 1 {
		t.Fatalf("repeated create: %v, creates %d", err, b.Creates())
	}

	clk.Step(2 * time.Second)
	st := r.waitState(t, "running", running)
	if st.IP != "10.241.0.2" || st.InitContainers[0].State != backend.Terminated || st.InitContainers[0].ExitCode != 0 {
		t.Errorf("running state: %+v", st)
	}
	if len(st.Events) != 4 {
		t.Errorf("got %d events, want Created and Started for each container", len(st.Events))
	}
	list, err := b.List(context.Background())
	if err != nil || len(list) != 1 || list[0].UID != "u1" {
		t.Fatalf("List = %v, %v", list, err)
	}

	if err := b.Delete(context.Background(), "u1", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "Killing", func(s *backend.PodState) bool {
		return len(s.Events) == 1 && s.Events[0].Reason == "Killing"
	})
	clk.Step(time.Second)
	end := r.waitState(t, "all terminated", func(s *backend.PodState) bool { return s.AllTerminated() })
	if end.Containers[0].ExitCode != 0 {
		t.Errorf("graceful stop exit code %d", end.Containers[0].ExitCode)
	}
	if b.Len() != 0 {
		t.Errorf("%d workloads left after delete", b.Len())
	}
	if err := b.Delete(context.Background(), "u1", 0); err != nil {
		t.Errorf("deleting again: %v", err)
	}
}

// Containers that set args without a command run as any other: the
// simulation has no image entrypoints to keep.
func TestArgsWithoutCommand(t *testing.T) {
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := subscribe(t, b)
	pod := testPod("u-args", nil)
	pod.Spec.InitContainers[0].Args = []string{"-c", "true"}
	pod.Spec.Containers[0].Args = []string{"--port", "80"}
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatalf("create a pod of args without a command: %v", err)
	}
	r.waitState(t, "running", running)
}

func TestDeleteKillsAfterGrace(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	b, _ := New(Config{StopDelay: time.Minute, Clock: clk})
	r := subscribe(t, b)
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u2", nil)}); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	r.waitState(t, "running", running)
	if err := b.Delete(context.Background(), "u2", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "Killing", func(s *backend.PodState) bool { return len(s.Events) > 0 && s.Events[0].Reason == "Killing" })
	clk.Step(5 * time.Second)
	end := r.waitState(t, "killed", func(s *backend.PodState) bool { return s.AllTerminated() })
	if end.Containers[0].ExitCode != 137 || end.Containers[0].Reason != "Error" {
		t.Errorf("killed container: %+v", end.Containers[0])
	}
}

func TestExitAndRestartWithBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	b, _ := New(Config{Clock: clk, RestartBackOff: 10 * time.Second})
	r := subscribe(t, b)
	pod := testPod("u3", map[string]string{AnnotationExitAfter: "3s", AnnotationExitCode: "2",
		AnnotationTerminationMessage: "out of luck"})
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	r.waitState(t, "running", running)
	clk.Step(3 * time.Second)
	crash := r.waitState(t, "CrashLoopBackOff", func(s *backend.PodState) bool {
		return s.Containers[0].Reason == "CrashLoopBackOff"
	})
	c := crash.Containers[0]
	if c.Last == nil || c.Last.ExitCode != 2 || c.Last.Reason != "Error" || c.Last.Message != "out of luck" {
		t.Errorf("last state after a crash: %+v", c.Last)
	}
	clk.Step(10 * time.Second)
	again := r.waitState(t, "restarted", func(s *backend.PodState) bool { return running(s) && s.Containers[0].RestartCount == 1 })
	if again.Containers[0].Last == nil {
		t.Error("restarted container lost its last state")
	}
}

func TestNeverRestartStaysTerminated(t *testing.T) {
	b, _ := New(Config{})
	r := subscribe(t, b)
	pod := testPod("u4", nil)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "running", running)
	if err := b.ExitContainer("u4", "app", 0); err != nil {
		t.Fatal(err)
	}
	st := r.waitState(t, "completed", func(s *backend.PodState) bool { return s.Containers[0].Reason == "Completed" })
	if !st.AllTerminated() {
		t.Error("a Never pod whose containers exited is not all terminated")
	}
}

func TestFailuresAndHealth(t *testing.T) {
	b, _ := New(Config{})
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u5", map[string]string{AnnotationFailCreate: "no such image"})}); err == nil || errors.Is(err, backend.ErrRetryable) {
		t.Errorf("fail-create annotation: %v, want a permanent error", err)
	}
	b.SetHealth(ErrUnhealthy)
	if err := b.Health(context.Background()); err == nil {
		t.Error("Health ok while unhealthy")
	}
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u6", nil)}); !errors.Is(err, backend.ErrRetryable) {
		t.Errorf("create while unhealthy: %v, want retryable", err)
	}
	b.SetHealth(nil)
	calls := 0
	b.SetCreateHook(func(*backend.Workload) error {
		calls++
		if calls == 1 {
			return backend.ErrRetryable
		}
		return nil
	})
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u6", nil)}); err == nil {
		t.Error("hook error not returned")
	}
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u6", nil)}); err != nil {
		t.Errorf("second create: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	b, _ := New(Config{})
	r := subscribe(t, b)
	pod := testPod("u7", nil)
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "running", running)
	changed := pod.DeepCopy()
	changed.Spec.Containers[0].Image = "hello:v2"
	if err := b.Update(context.Background(), &backend.Workload{Pod: changed}); err != nil {
		t.Fatal(err)
	}
	r.waitState(t, "new image", func(s *backend.PodState) bool { return s.Containers[0].Image == "hello:v2" })
	changed.Spec.Containers = append(changed.Spec.Containers, corev1.Container{Name: "extra"})
	if err := b.Update(context.Background(), &backend.Workload{Pod: changed}); !errors.Is(err, backend.ErrNotSupported) {
		t.Errorf("adding a container in place: %v, want ErrNotSupported", err)
	}
}

// Stop ends the containers for good and keeps the workload: listed, its
// logs readable, never restarted; Delete removes it afterwards.
func TestStopKeepsTheWorkload(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	b, _ := New(Config{StopDelay: time.Minute, Clock: clk})
	r := subscribe(t, b)
	if err := b.Create(context.Background(), &backend.Workload{Pod: testPod("u8", nil)}); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	r.waitState(t, "running", running)
	if err := b.Stop(context.Background(), "u8", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(context.Background(), "u8", 2*time.Second); err != nil || b.Stops() != 1 {
		t.Fatalf("stopping again: %v, %d stops", err, b.Stops())
	}
	r.waitState(t, "Killing", func(s *backend.PodState) bool { return len(s.Events) > 0 && s.Events[0].Reason == "Killing" })
	clk.Step(2 * time.Second)
	end := r.waitState(t, "stopped", func(s *backend.PodState) bool { return s.AllTerminated() })
	if end.Containers[0].ExitCode != 137 {
		t.Errorf("container killed at the end of the grace period: %+v", end.Containers[0])
	}
	if err := b.ExitContainer("u8", "app", 1); err != nil {
		t.Errorf("exit of a stopped container: %v", err)
	}
	clk.Step(time.Hour) // no restart comes
	list, err := b.List(context.Background())
	if err != nil || len(list) != 1 || !list[0].AllTerminated() {
		t.Fatalf("List after Stop = %+v, %v; want the stopped workload", list, err)
	}
	var logs strings.Builder
	if err := b.Logs(context.Background(), backend.PodRef{UID: "u8", Namespace: "ns", Name: "p-u8"}, "app", backend.LogOptions{}, &logs); err != nil ||
		!strings.Contains(logs.String(), "exited with code 137") {
		t.Errorf("logs of a stopped container: %q, %v", logs.String(), err)
	}
	if err := b.Stop(context.Background(), "nope", 0); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("stop of a missing workload: %v, want ErrNotFound", err)
	}

	if err := b.Delete(context.Background(), "u8", 0); err != nil {
		t.Fatal(err)
	}
	clk.Step(0)
	waitGone := time.Now().Add(10 * time.Second)
	for b.Len() != 0 {
		if time.Now().After(waitGone) {
			t.Fatal("the stopped workload outlived its Delete")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFailingInitContainer: under Never a failed init container ends the
// pod's run there; under Always it is retried after the back-off. The
// containers never start and wait as PodInitializing.
func TestFailingInitContainer(t *testing.T) {
	appWaits := func(t *testing.T, s *backend.PodState) {
		t.Helper()
		if c := s.Containers[0]; c.State != backend.Waiting || c.Reason != backend.ReasonPodInitializing {
			t.Errorf("app = %s/%s while the init container fails, want waiting as PodInitializing", c.State, c.Reason)
		}
	}
	failed := func(s *backend.PodState) bool {
		return s.InitContainers[0].State == backend.Terminated && s.InitContainers[0].ExitCode == 1
	}
	for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyNever, corev1.RestartPolicyAlways} {
		t.Run(string(policy), func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Now())
			b, _ := New(Config{Clock: clk, RestartBackOff: 10 * time.Second})
			r := subscribe(t, b)
			uid := "init-" + string(policy)
			pod := testPod(uid, map[string]string{AnnotationFailInit: "init"})
			pod.Spec.RestartPolicy = policy
			if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
				t.Fatal(err)
			}
			clk.Step(0)
			appWaits(t, r.waitState(t, "the init container failed", failed))
			clk.Step(10 * time.Second)
			if policy == corev1.RestartPolicyNever {
				if !clk.HasWaiters() {
					return // nothing is scheduled: the pod stays as it is
				}
				t.Fatal("a Never pod whose init container failed has timers left")
			}
			retried := r.waitState(t, "the init container retried", func(s *backend.PodState) bool {
				return failed(s) && s.InitContainers[0].RestartCount == 1
			})
			if last := retried.InitContainers[0].Last; last == nil || last.ExitCode != 1 {
				t.Errorf("retried init container's last state = %+v, want its exit with 1", last)
			}
			appWaits(t, retried)
		})
	}
}
