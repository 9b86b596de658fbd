package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// result is what a kubectl run gave.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// kubectl runs the real kubectl against the suite's cluster with stdin
// (none when nil) and waits at most two minutes.
func kubectl(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return kubectlCtx(ctx, t, stdin, args...)
}

func kubectlCtx(ctx context.Context, t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(ctx, env.binaries.Path(k8sbin.Kubectl), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig())
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustKubectl runs kubectl and fails the test unless it exits 0.
func mustKubectl(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	r := kubectl(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// namespace creates a namespace for one test and deletes it at the end.
func namespace(t *testing.T) string {
	t.Helper()
	requireSuite(t)
	return framework.NewNamespace(t, env.Client)
}

// virtualPod is a pod for the virtual node: its nodeSelector and
// tolerations, as the AKS sample has them.
func virtualPod(name string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Containers:   containers,
			NodeSelector: map[string]string{"type": "virtual-kubelet", "kubernetes.io/role": "agent"},
			Tolerations: []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists},
				{Key: "azure.com/aci", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
}

// shell is a container of the shell image running script with sh -c.
func shell(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: env.Regs.Images.Shell, Command: []string{"/bin/sh", "-c", script}}
}

// createPod creates pod in ns.
func createPod(t *testing.T, ns string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	created, err := env.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	return created
}

// waitPod waits until cond holds for the pod, failing with its status.
func waitPod(t *testing.T, ns, name, what string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	framework.WaitFor(t, fmt.Sprintf("pod %s/%s %s", ns, name, what), timeout, func() (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		if cond(p) {
			return true, nil
		}
		return false, fmt.Errorf("phase %s, reason %q, message %q, containers %s", p.Status.Phase, p.Status.Reason,
			p.Status.Message, containerSummary(p))
	})
	return last
}

// running reports a pod Running with every container ready.
func running(p *corev1.Pod) bool { return framework.PodReady(p) }

func containerSummary(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range p.Status.ContainerStatuses {
		fmt.Fprintf(&b, "[%s ready=%v restarts=%d", c.Name, c.Ready, c.RestartCount)
		switch {
		case c.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s: %s", c.State.Waiting.Reason, c.State.Waiting.Message)
		case c.State.Running != nil:
			b.WriteString(" running")
		case c.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s (%d)", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
		}
		b.WriteString("]")
	}
	return b.String()
}

// sampleManifest returns examples/aks-virtual-node-sample.yaml with its
// image pointed at this cluster's registry (its port is the test's own).
func sampleManifest(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(framework.RepoRoot() + "/examples/aks-virtual-node-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := localcluster.DefaultPorts()
	return bytes.ReplaceAll(data, []byte(fmt.Sprintf("127.0.0.1:%d/", def.Registry)), []byte(env.Regs.Open+"/"))
}

// resourceQuantity parses a quantity.
func resourceQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// waitRunningPods waits until n pods of ns are Running and ready.
func waitRunningPods(t *testing.T, ns string, n int, timeout time.Duration) {
	t.Helper()
	framework.WaitFor(t, fmt.Sprintf("%d pods Running in %s", n, ns), timeout, func() (bool, error) {
		ready, total, err := framework.CountReadyPods(context.Background(), env.Client, ns)
		if err != nil {
			return false, err
		}
		return ready == n, fmt.Errorf("%d of %d pods Running", ready, total)
	})
}
