package pods

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// A terminated container's message is its termination message, in its
// state and, after a restart, in its last state, for init containers too.
func TestTerminationMessagesInStatus(t *testing.T) {
	pod := specPod(corev1.RestartPolicyAlways, "init")
	init := ctr("init", backend.Terminated, 0)
	init.Message = "set up"
	last := ctr("app", backend.Terminated, 1)
	last.Message = "panic: boom\n"
	app := ctr("app", backend.Terminated, 2)
	app.Message, app.Last, app.RestartCount = "DONE", &last, 1
	st := computeStatus(statusInput{pod: pod, now: t0.Add(time.Minute), state: &backend.PodState{IP: "10.241.0.7", StartTime: t0,
		InitContainers: []backend.ContainerState{init}, Containers: []backend.ContainerState{app}}})
	if got := st.InitContainerStatuses[0].State.Terminated; got == nil || got.Message != "set up" {
		t.Errorf("init container's state %+v", got)
	}
	c := st.ContainerStatuses[0]
	if c.State.Terminated == nil || c.State.Terminated.Message != "DONE" || c.State.Terminated.ExitCode != 2 {
		t.Errorf("state %+v", c.State)
	}
	if c.LastTerminationState.Terminated == nil || c.LastTerminationState.Terminated.Message != "panic: boom\n" {
		t.Errorf("last state %+v", c.LastTerminationState)
	}
}
