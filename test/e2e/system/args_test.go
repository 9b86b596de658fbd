package system

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pods run their command and args as on a kubelet: args without a command
// follow the image's entrypoint (the shell image's /bin/sh), in init and
// main containers, with $(VAR) expanded; a command with args replaces the
// entrypoint; with neither the image's own (the hello image's /hello) runs.
func TestCommandAndArgs(t *testing.T) {
	ns := namespace(t)
	msg := []corev1.EnvVar{{Name: "MSG", Value: "hello"}}
	argsOnly := virtualPod("args-only", corev1.Container{Name: "main", Image: env.Regs.Images.Shell, Env: msg,
		Args: []string{"-c", "echo args-only-$(MSG)"}})
	argsOnly.Spec.InitContainers = []corev1.Container{{Name: "init", Image: env.Regs.Images.Shell, Env: msg,
		Args: []string{"-c", "echo init-$(MSG)"}}}
	both := virtualPod("both", corev1.Container{Name: "main", Image: env.Regs.Images.Shell, Env: msg,
		Command: []string{"/bin/sh", "-c"}, Args: []string{"echo 'both-$(MSG)' '$$(MSG)'"}})
	for _, p := range []*corev1.Pod{argsOnly, both} {
		p.Spec.RestartPolicy = corev1.RestartPolicyNever
		createPod(t, ns, p)
	}
	createPod(t, ns, virtualPod("neither", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Ports: []corev1.ContainerPort{{ContainerPort: 80}}}))

	succeeded := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded }
	waitPod(t, ns, "args-only", "Succeeded", 2*time.Minute, succeeded)
	if out := mustKubectl(t, nil, "logs", "-n", ns, "args-only"); out != "args-only-hello\n" {
		t.Errorf("kubectl logs of args without a command: %q, want %q", out, "args-only-hello\n")
	}
	if out := mustKubectl(t, nil, "logs", "-n", ns, "args-only", "-c", "init"); out != "init-hello\n" {
		t.Errorf("kubectl logs of an init container of args without a command: %q", out)
	}
	waitPod(t, ns, "both", "Succeeded", 2*time.Minute, succeeded)
	if out := mustKubectl(t, nil, "logs", "-n", ns, "both"); out != "both-hello $(MSG)\n" {
		t.Errorf("kubectl logs of command and args: %q", out)
	}
	waitPod(t, ns, "neither", "Running", 2*time.Minute, running)
	if out := mustKubectl(t, nil, "logs", "-n", ns, "neither"); !strings.Contains(out, "hello: listening on") {
		t.Errorf("kubectl logs of the image's own entrypoint: %q", out)
	}
}
