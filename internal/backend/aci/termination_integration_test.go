package aci_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// terminationWorkload is a pod that runs once: an init container that
// writes its termination message, and a container that fails after a line
// of log, whose message falls back to the log.
func terminationWorkload(name string) *backend.Workload {
	w := workload(name, "1")
	pod := w.Pod
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	main := &pod.Spec.Containers[0]
	main.Command = []string{"exit", "3"}
	main.TerminationMessagePath = corev1.TerminationMessagePathDefault
	main.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "vnode/shell:1",
		Command:                []string{"sh", "-c", "echo -n set up > " + corev1.TerminationMessagePathDefault},
		TerminationMessagePath: corev1.TerminationMessagePathDefault}}
	return w
}

// With the service's termination-message extension, the containers'
// messages reach their states; without it (Azure) they stay empty.
func TestBackendTerminationMessages(t *testing.T) {
	files := startService(t, nil)
	for _, tc := range []struct {
		name, pod          string
		extensions         string
		wantInit, wantMain string
	}{
		{"with the extension", "msg-on", "list-instance-view,termination-message", "set up", "container main started\n"},
		{"without", "msg-off", "list-instance-view", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rec := newBackend(t, announce(t, files, tc.extensions))
			w := terminationWorkload(tc.pod)
			if err := b.Create(testContext(t), w); err != nil {
				t.Fatal(err)
			}
			st := rec.waitFor(t, w.Pod.UID, "every container terminated", func(st *backend.PodState) bool {
				return len(st.InitContainers) == 1 && len(st.Containers) == 1 && st.InitContainers[0].State == backend.Terminated &&
					st.Containers[0].State == backend.Terminated
			})
			if got := st.InitContainers[0].Message; got != tc.wantInit {
				t.Errorf("init container's message %q, want %q", got, tc.wantInit)
			}
			if c := st.Containers[0]; c.ExitCode != 3 || c.Message != tc.wantMain {
				t.Errorf("container %+v, want exit 3 and message %q", c, tc.wantMain)
			}
		})
	}
}
