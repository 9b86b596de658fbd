package system

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The details of a pod's status that the conformance tests read: each
// container's imageID by digest, the PodReadyToStartContainers condition
// once the sandbox has its network, and the restart count and last
// termination of a container that exited.
func TestPodStatusDetails(t *testing.T) {
	ns := namespace(t)
	pod := virtualPod("details", shell("main", "sleep 2; exit 3"))
	pod.Spec.InitContainers = []corev1.Container{shell("init", "true")}
	createPod(t, ns, pod)
	p := waitPod(t, ns, "details", "restarted", 3*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1 && cs[0].LastTerminationState.Terminated != nil
	})
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		repo := c.Image[:strings.LastIndex(c.Image, ":")] // without the tag
		if !strings.HasPrefix(c.ImageID, repo+"@sha256:") {
			t.Errorf("%s: imageID %q, want %s@sha256:…", c.Name, c.ImageID, repo)
		}
	}
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last.ExitCode != 3 || last.Reason != "Error" ||
		last.StartedAt.IsZero() || last.FinishedAt.Before(&last.StartedAt) {
		t.Errorf("lastState.terminated %+v", last)
	}
	if c := condition(p, corev1.PodReadyToStartContainers); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("PodReadyToStartContainers %+v", c)
	}
	if c := condition(p, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
	// Between a second exit and its restart the container waits out its
	// back-off, shown as the kubelet shows it.
	p = waitPod(t, ns, "details", "in CrashLoopBackOff", 3*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := p.Status.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 || cs.RestartCount < 1 ||
		!strings.HasPrefix(cs.State.Waiting.Message, "back-off ") || p.Status.Phase != corev1.PodRunning {
		t.Errorf("in back-off: %s, phase %s", containerSummary(p), p.Status.Phase)
	}
}
