package pods

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

// deadlineFixture runs the controller on a fake clock (the work queue's
// delays included) and the memory backend on the real one, so that
// workloads start at once and a deadline passes only when the test steps
// the clock.
func deadlineFixture(t *testing.T, b backend.Backend, objects ...runtime.Object) (*fixture, *clocktesting.FakeClock) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Now())
	mem, _ := b.(*memory.Backend)
	f := newFixtureWith(t, mem, func(c *ControllerConfig) {
		c.Clock = clk
		if b != nil {
			c.Backend = b
		}
	}, objects...)
	f.run()
	return f, clk
}

// stepUntil steps the clock by step until cond holds: whichever of the work
// queue's timers a step finds set fires, and one set just after a step
// fires at the next.
func stepUntil(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clk.Step(step)
		time.Sleep(5 * time.Millisecond)
	}
}

// checkFailedOnceStopped checks that no status write made the pod Failed
// while its container ran, as the kubelet's status manager never makes a
// pod terminal while its containers may run.
func (f *fixture) checkFailedOnceStopped(name string) {
	f.t.Helper()
	for _, a := range f.client.Actions() {
		u, ok := a.(k8stesting.UpdateAction)
		if !ok || a.GetSubresource() != "status" {
			continue
		}
		if w := u.GetObject().(*corev1.Pod); w.Name == name && w.Status.Phase == corev1.PodFailed {
			if cs := w.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Terminated == nil {
				f.t.Fatalf("the pod was written Failed while its container ran: %+v", cs)
			}
		}
	}
}

func deadlineExceeded(p *corev1.Pod) bool {
	return p != nil && p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded"
}

// countEvents drains the recorder and counts the events containing substr.
func (f *fixture) countEvents(substr string) int {
	n := 0
	for {
		select {
		case e := <-f.recorder.Events:
			if strings.Contains(e, substr) {
				n++
			}
		default:
			return n
		}
	}
}

// checkStopped checks that the pod's workload was stopped, not deleted: it
// is listed with every container terminated, and the pod's status shows
// the container terminated.
func (f *fixture) checkStopped(name string) {
	f.t.Helper()
	uid := types.UID("uid-" + name)
	p := f.waitPod(name, "its container terminated", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil
	})
	if p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		f.t.Errorf("message %q", p.Status.Message)
	}
	if f.backend.Workload(uid) == nil || f.backend.Stops() != 1 {
		f.t.Fatalf("workload kept: %v, stops %d; want the workload stopped once and kept", f.backend.Workload(uid) != nil, f.backend.Stops())
	}
	states, err := f.backend.List(context.Background())
	if err != nil || len(states) != 1 || !states[0].AllTerminated() {
		f.t.Errorf("backend lists %+v (%v), want the stopped workload", states, err)
	}
}

// A pod past its activeDeadlineSeconds fails as on a kubelet — its
// containers stop (taking their time) while its workload stays, then it is
// Failed with reason DeadlineExceeded, with one event —; deleting the pod
// then deletes the workload.
func TestActiveDeadlineFailsThePod(t *testing.T) {
	b, _ := memory.New(memory.Config{StopDelay: 200 * time.Millisecond})
	pod := newPod("job")
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	f, clk := deadlineFixture(t, b, pod)
	f.waitPod("job", "Running", running)
	stepUntil(t, clk, time.Second, "the deadline", func() bool { return deadlineExceeded(f.pod("job")) })
	f.checkStopped("job")
	f.checkFailedOnceStopped("job")
	if got := clk.Since(f.pod("job").Status.StartTime.Time); got < 30*time.Second {
		t.Errorf("failed %s after the start, before the deadline", got)
	}
	f.waitInformer("job", deadlineExceeded)
	for range 3 {
		f.requeueAndWaitForSync("ns/job")
	}
	if n := f.countEvents("Normal DeadlineExceeded Pod was active on the node longer than the specified deadline"); n != 1 {
		t.Errorf("%d DeadlineExceeded events, want 1", n)
	}

	p := f.pod("job")
	p.DeletionTimestamp = ptr.To(metav1.Now())
	p.DeletionGracePeriodSeconds = ptr.To[int64](30)
	if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitPod("job", "deletion", func(p *corev1.Pod) bool { return p == nil })
	waitFor(t, "the workload deleted", func() bool { return f.backend.Len() == 0 })
}

// activeDeadlineSeconds set on a running pod (the API allows it, as the
// conformance test does) makes it fail once the new deadline has passed.
func TestActiveDeadlineSetOnARunningPod(t *testing.T) {
	f, clk := deadlineFixture(t, nil, newPod("web"))
	f.waitPod("web", "Running", running)
	f.waitInformer("web", func(p *corev1.Pod) bool { return running(p) && p.Status.StartTime != nil })
	p := f.pod("web")
	p.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	if _, err := f.client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, clk, time.Second, "the deadline", func() bool { return deadlineExceeded(f.pod("web")) })
	f.checkStopped("web")
	f.checkFailedOnceStopped("web")
}

// A deadline ahead changes nothing but queues the pod for that moment: it
// fails then without anything queueing it.
func TestActiveDeadlineAheadQueuesThePod(t *testing.T) {
	pod := newPod("job")
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
	f, clk := deadlineFixture(t, nil, pod)
	f.waitPod("job", "Running", running)
	f.waitInformer("job", running)
	clk.Step(50 * time.Second)
	f.requeueAndWaitForSync("ns/job")
	if p := f.pod("job"); !running(p) || f.backend.Stops() != 0 {
		t.Fatalf("before its deadline the pod is %s (%s), with %d stops", p.Status.Phase, p.Status.Reason, f.backend.Stops())
	}
	syncs := f.syncCount()
	stepUntil(t, clk, time.Second, "the deadline", func() bool { return deadlineExceeded(f.pod("job")) })
	if f.syncCount() == syncs {
		t.Error("the pod failed without a sync")
	}
	f.checkStopped("job")
	f.checkFailedOnceStopped("job")
}

// Finished pods are left alone whatever their deadline; a pod that has not
// started has no deadline yet.
func TestActiveDeadlineLeavesTerminalPodsAlone(t *testing.T) {
	done := newPod("done")
	done.Spec.RestartPolicy = corev1.RestartPolicyNever
	done.Spec.ActiveDeadlineSeconds = ptr.To[int64](1)
	done.Annotations = map[string]string{memory.AnnotationExitAfter: "0s"}
	f, clk := deadlineFixture(t, nil, done)
	f.waitPod("done", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	f.waitInformer("done", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	clk.Step(time.Minute)
	f.requeueAndWaitForSync("ns/done")
	if p := f.pod("done"); p.Status.Phase != corev1.PodSucceeded || p.Status.Reason != "" || f.backend.Stops() != 0 {
		t.Errorf("a finished pod past its deadline: %s %q, %d stops", p.Status.Phase, p.Status.Reason, f.backend.Stops())
	}
	if n := f.countEvents("DeadlineExceeded"); n != 0 {
		t.Errorf("%d DeadlineExceeded events for a finished pod", n)
	}

	if _, ok := deadlineOf(&corev1.Pod{Spec: corev1.PodSpec{ActiveDeadlineSeconds: ptr.To[int64](1)}}, nil); ok {
		t.Error("a pod without a start time has a deadline")
	}
}

// deleter hides the memory backend's Stop: a backend that cannot keep a
// stopped workload.
type deleter struct{ backend.Backend }

// Without backend.Stopper, a pod past its deadline has its workload
// deleted with the pod's termination grace period.
func TestActiveDeadlineWithoutStopperDeletes(t *testing.T) {
	b, _ := memory.New(memory.Config{StopDelay: time.Hour})
	pod := newPod("job")
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
	f, clk := deadlineFixture(t, deleter{b}, pod)
	f.backend = b
	f.waitPod("job", "Running", running)
	stepUntil(t, clk, time.Second, "the deadline", func() bool { return deadlineExceeded(f.pod("job")) })
	p := f.waitPod("job", "its container killed", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Terminated != nil
	})
	if code := p.Status.ContainerStatuses[0].State.Terminated.ExitCode; code != 137 || b.Len() != 0 {
		t.Errorf("exit code %d, %d workloads: want the workload deleted with grace 0", code, b.Len())
	}
}

// After an agent restart, a pod that failed for its deadline keeps its
// reason, and a workload still running (the agent stopped before it could
// stop it) is stopped.
func TestActiveDeadlineAfterARestart(t *testing.T) {
	b, _ := memory.New(memory.Config{})
	pod := newPod("job")
	pod.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	if err := b.Create(context.Background(), &backend.Workload{Pod: pod}); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded",
		Message: "Pod was active on the node longer than the specified deadline", StartTime: ptr.To(metav1.Now())}
	f, _ := deadlineFixture(t, b, pod)
	f.checkStopped("job")
	if p := f.pod("job"); !deadlineExceeded(p) {
		t.Errorf("after the restart: phase %s, reason %q", p.Status.Phase, p.Status.Reason)
	}
	if n := f.countEvents("DeadlineExceeded"); n != 0 {
		t.Errorf("%d DeadlineExceeded events again after the restart", n)
	}
}
