package system

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

// A running pod whose activeDeadlineSeconds is set to 5, as the conformance
// test "Pods should allow activeDeadlineSeconds to be updated" does, has
// its container sent SIGTERM, then killed at the end of its termination
// grace period (the shell traps SIGTERM and goes on), and fails with the
// kubelet's DeadlineExceeded; the container keeps its log, and deleting the
// pod removes its group.
func TestActiveDeadline(t *testing.T) {
	ns := namespace(t)
	pod := virtualPod("deadline", shell("main", "trap 'echo got SIGTERM' TERM; echo before the deadline; while true; do sleep 1; done"))
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](3)
	createPod(t, ns, pod)
	waitPod(t, ns, "deadline", "Running", 2*time.Minute, running)

	patched := time.Now()
	mustKubectl(t, nil, "patch", "pod", "deadline", "-n", ns, "-p", `{"spec":{"activeDeadlineSeconds":5}}`)
	p := waitPod(t, ns, "deadline", "Failed with DeadlineExceeded", time.Minute, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded"
	})
	if p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("message %q", p.Status.Message)
	}
	// As on a kubelet the pod is Failed once its container has stopped;
	// it was killed after the pod's 3 s, not the default 30 s.
	if took := time.Since(patched); took > 25*time.Second {
		t.Errorf("Failed %s after the patch: the grace period of 3 s was not honoured", took.Round(time.Second))
	}
	if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Terminated == nil {
		t.Fatalf("Failed with containers %s, want the container terminated", containerSummary(p))
	} else if term := cs[0].State.Terminated; term.ExitCode != 137 || term.Reason != "Error" {
		t.Errorf("container terminated %+v, want killed (137, Error)", term)
	}

	if out := mustKubectl(t, nil, "logs", "-n", ns, "deadline"); out != "before the deadline\ngot SIGTERM\n" {
		t.Errorf("kubectl logs of the pod past its deadline: %q", out)
	}
	events := mustKubectl(t, nil, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=deadline,reason=DeadlineExceeded")
	if !strings.Contains(events, "Pod was active on the node longer than the specified deadline") {
		t.Errorf("no DeadlineExceeded event:\n%s", events)
	}
	if got := groupsOfNamespace(t, ns); len(got) != 1 {
		t.Errorf("container groups %v, want the stopped pod's", got)
	}

	mustKubectl(t, nil, "delete", "pod", "-n", ns, "deadline", "--timeout=2m")
	framework.WaitFor(t, "the container group gone", time.Minute, func() (bool, error) {
		left := groupsOfNamespace(t, ns)
		return len(left) == 0, fmt.Errorf("groups left: %v", left)
	})
}
