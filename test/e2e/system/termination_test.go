package system

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Termination messages as the kubelet gives them: what a container wrote
// to /dev/termination-log or its own terminationMessagePath, the tail of
// its log when it failed under FallbackToLogsOnError, nothing for a
// failure under File, and the last run's message after a restart.
func TestTerminationMessages(t *testing.T) {
	ns := namespace(t)
	pods := []struct {
		name   string
		policy corev1.RestartPolicy
		ctr    corev1.Container
		// want is the message of state.terminated, or with lastState set
		// of lastState.terminated.
		want      string
		lastState bool
	}{
		{"done", corev1.RestartPolicyNever, shell("main", "printf DONE > /dev/termination-log"), "DONE", false},
		{"custom", corev1.RestartPolicyNever, withTermination(shell("main", "printf 'custom path' > /tmp/message"),
			"/tmp/message", corev1.TerminationMessageReadFile), "custom path", false},
		{"fallback", corev1.RestartPolicyNever, withTermination(shell("main", "for i in 1 2 3; do echo line $i; done; exit 1"),
			"", corev1.TerminationMessageFallbackToLogsOnError), "line 1\nline 2\nline 3\n", false},
		{"file", corev1.RestartPolicyNever, withTermination(shell("main", "echo not a message; exit 1"),
			"", corev1.TerminationMessageReadFile), "", false},
		{"again", corev1.RestartPolicyOnFailure, shell("main", "printf try >> /dev/termination-log; exit 1"), "try", true},
	}
	for _, p := range pods {
		pod := virtualPod(p.name, p.ctr)
		pod.Spec.RestartPolicy = p.policy
		createPod(t, ns, pod)
	}
	for _, p := range pods {
		field := "state"
		if p.lastState {
			field = "lastState"
		}
		waitPod(t, ns, p.name, field+" terminated", 3*time.Minute, func(pod *corev1.Pod) bool {
			cs := pod.Status.ContainerStatuses
			if len(cs) != 1 {
				return false
			}
			if p.lastState {
				return cs[0].LastTerminationState.Terminated != nil
			}
			return cs[0].State.Terminated != nil
		})
		jsonpath := fmt.Sprintf("jsonpath={.status.containerStatuses[0].%s.terminated.message}", field)
		if got := mustKubectl(t, nil, "get", "pod", "-n", ns, p.name, "-o", jsonpath); got != p.want {
			t.Errorf("pod %s: %s.terminated.message %q, want %q", p.name, field, got, p.want)
		}
	}
	// kubectl describe shows the message as the kubelet's would.
	if out := mustKubectl(t, nil, "describe", "pod", "-n", ns, "done"); !strings.Contains(out, "Message:") ||
		!strings.Contains(out, "DONE") {
		t.Errorf("kubectl describe lacks the message:\n%s", out)
	}
}

// withTermination sets a container's termination message path (unless
// empty: the default) and policy.
func withTermination(c corev1.Container, path string, policy corev1.TerminationMessagePolicy) corev1.Container {
	if path != "" {
		c.TerminationMessagePath = path
	}
	c.TerminationMessagePolicy = policy
	return c
}

// A pod whose grace period is above the service's limit (3600 s) is
// deleted as on a kubelet: the agent asks for the longest grace the
// service allows, the container stops at its SIGTERM, and the pod goes.
func TestLongGracePeriodPodIsDeleted(t *testing.T) {
	ns := namespace(t)
	pod := virtualPod("long-grace", shell("main", "trap 'exit 0' TERM; while true; do sleep 1; done"))
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](7200)
	createPod(t, ns, pod)
	waitPod(t, ns, "long-grace", "running", 3*time.Minute, running)
	mustKubectl(t, nil, "delete", "pod", "-n", ns, "long-grace", "--timeout=2m")
}
