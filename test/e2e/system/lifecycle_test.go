package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

// Lifecycle hooks as the kubelet runs them, observed with kubectl: a
// postStart exec hook writes a file the container's main process waits
// for; postStart and preStop httpGet hooks reach a handler pod by its IP
// (the conformance tests' shape) and a preStop exec hook calls it on
// `kubectl delete`; a preStop sleep delays the termination; a failing
// postStart hook gives FailedPostStartHook and the container restarts; a
// failing preStop hook gives FailedPreStopHook and the pod goes all the
// same.
func TestLifecycleHooks(t *testing.T) {
	ns := namespace(t)
	createPod(t, ns, virtualPod("handler", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}))
	handlerIP := waitPod(t, ns, "handler", "running", 3*time.Minute, running).Status.PodIP
	// The main processes stop at once on SIGTERM: what delays a deletion
	// is the hook, not a shell ignoring the signal.
	const serve = "trap 'exit 0' TERM; sleep 3600 & wait"
	get := func(path string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: handlerIP, Port: intstr.FromInt32(80), Path: path}}
	}
	execHook := func(script string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", script}}}
	}
	hooked := func(name, script string, l *corev1.Lifecycle) *corev1.Pod {
		c := shell("main", script)
		c.Lifecycle = l
		return virtualPod(name, c)
	}
	pods := []*corev1.Pod{
		hooked("poststart-exec", "while [ ! -e /tmp/hook ]; do sleep 1; done; echo main saw $(cat /tmp/hook); "+serve,
			&corev1.Lifecycle{PostStart: execHook("echo written-by-the-hook > /tmp/hook")}),
		hooked("poststart-http", serve, &corev1.Lifecycle{PostStart: get("/poststart-http")}),
		hooked("prestop-exec", serve, &corev1.Lifecycle{PreStop: execHook("wget -q -O /dev/null http://" + handlerIP + "/prestop-exec")}),
		hooked("prestop-http", serve, &corev1.Lifecycle{PreStop: get("/prestop-http")}),
		hooked("prestop-sleep", serve, &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 8}}}),
		hooked("poststart-fail", serve, &corev1.Lifecycle{PostStart: execHook("exit 3")}),
		// SIGTERM takes a few seconds here, so that the agent reads the
		// failure's event before the group is gone.
		hooked("prestop-fail", "trap 'sleep 5; exit 0' TERM; sleep 3600 & wait", &corev1.Lifecycle{PreStop: execHook("exit 1")}),
	}
	for _, p := range pods {
		createPod(t, ns, p)
	}
	for _, name := range []string{"poststart-exec", "poststart-http", "prestop-exec", "prestop-http", "prestop-sleep", "prestop-fail"} {
		waitPod(t, ns, name, "running", 3*time.Minute, running)
	}
	// The main process looks for the file once a second: its line may
	// follow the pod's readiness.
	framework.WaitFor(t, "the main process to see the postStart hook's file", time.Minute, func() (bool, error) {
		out := mustKubectl(t, nil, "logs", "-n", ns, "poststart-exec")
		return strings.Contains(out, "main saw written-by-the-hook"), fmt.Errorf("log %q", out)
	})
	waitHandlerLog(t, ns, "GET /poststart-http")

	for _, name := range []string{"prestop-exec", "prestop-http"} {
		mustKubectl(t, nil, "delete", "pod", "-n", ns, name, "--timeout=2m")
		waitHandlerLog(t, ns, "GET /"+name)
	}

	began := time.Now()
	mustKubectl(t, nil, "delete", "pod", "-n", ns, "prestop-sleep", "--timeout=2m")
	if d := time.Since(began); d < 8*time.Second || d > 30*time.Second {
		t.Errorf("deleting the pod with an 8 s preStop sleep took %s", d)
	}

	waitPod(t, ns, "poststart-fail", "restarted after its postStart hook failed", 3*time.Minute, func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount >= 1 && !cs[0].Ready
	})
	waitEvent(t, ns, "poststart-fail", "FailedPostStartHook", "PostStartHook failed")

	mustKubectl(t, nil, "delete", "pod", "-n", ns, "prestop-fail", "--timeout=2m")
	waitEvent(t, ns, "prestop-fail", "FailedPreStopHook", "PreStopHook failed")
}

// waitHandlerLog waits until the handler pod's log has line.
func waitHandlerLog(t *testing.T, ns, line string) {
	t.Helper()
	framework.WaitFor(t, "the handler to log "+line, time.Minute, func() (bool, error) {
		out := kubectl(t, nil, "logs", "-n", ns, "handler")
		return strings.Contains(out.stdout, line), fmt.Errorf("log: %s", out.stdout)
	})
}

// waitEvent waits for a Warning event of reason on the pod's container
// main, with message.
func waitEvent(t *testing.T, ns, pod, reason, message string) {
	t.Helper()
	framework.WaitFor(t, fmt.Sprintf("a %s event on %s", reason, pod), 2*time.Minute, func() (bool, error) {
		list, err := env.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + pod + ",reason=" + reason})
		if err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Type == corev1.EventTypeWarning && e.Message == message && e.InvolvedObject.FieldPath == "spec.containers{main}" {
				return true, nil
			}
		}
		return false, fmt.Errorf("events %+v", list.Items)
	})
}
