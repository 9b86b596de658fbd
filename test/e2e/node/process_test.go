package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

const procNode = "vnode-e2e-process"

// startNodeProcess runs `vnode node` for procNode with its own taint, so
// that only pods aimed at it land there.
func startNodeProcess(t *testing.T, kubeconfig string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"node", "--kubeconfig", kubeconfig, "--node-name", procNode,
		"--taint", "e2e/process=true:NoSchedule", "--metrics-addr", "", "--internal-ip", "127.0.0.1",
		"--kubelet-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(env.vnode, args...)
	log, err := os.OpenFile(filepath.Join(t.TempDir(), "node.log"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait(); log.Close() })
	return cmd
}

// `vnode node` killed with SIGKILL and started again: the node stays, its
// lease is renewed by the new process, every pod is Running, and the new
// process carries out their deletion. (The memory backend lives in the
// process, so the new one runs the workloads anew; adoption of surviving
// workloads is TestAgentRestartMidBurst's subject.)
func TestNodeProcessSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	kubeconfig := env.cluster.Kubeconfig()
	first := startNodeProcess(t, kubeconfig)
	ns := newNamespace(t)
	d := aksSample(10)
	d.Spec.Template.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": procNode}
	d.Spec.Template.Spec.Tolerations = append(d.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: "e2e/process", Operator: corev1.TolerationOpExists})
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runningOnProc := func() (bool, error) {
		pods, err := podsIn(ns)
		if err != nil {
			return false, err
		}
		n := 0
		for _, p := range pods {
			if p.Spec.NodeName == procNode && p.Status.Phase == corev1.PodRunning && isReady(&p) {
				n++
			}
		}
		return n == 10, nil
	}
	framework.WaitFor(t, "10 pods Running on the process's node", 2*time.Minute, runningOnProc)

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	before, err := env.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, procNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	startNodeProcess(t, kubeconfig)
	framework.WaitFor(t, "the lease renewed by the new process", time.Minute, func() (bool, error) {
		after, err := env.client.CoordinationV1().Leases("kube-node-lease").Get(ctx, procNode, metav1.GetOptions{})
		return err == nil && after.Spec.RenewTime.After(before.Spec.RenewTime.Time), err
	})
	framework.WaitFor(t, "10 pods Running again", 2*time.Minute, runningOnProc)
	if err := env.client.AppsV1().Deployments(ns).Delete(ctx, d.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the pods gone", 2*time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return err == nil && len(pods) == 0, err
	})
	_ = env.client.CoreV1().Nodes().Delete(ctx, procNode, metav1.DeleteOptions{})
}

// `vnode node` with its metrics server exits cleanly (status 0) on SIGTERM.
func TestNodeProcessExitsOnSIGTERM(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := startNodeProcess(t, env.cluster.Kubeconfig(), "--metrics-addr", addr)
	// Once /healthz answers, the agent runs all its parts, the metrics
	// server included, which must shut down too.
	framework.WaitFor(t, "the agent serving /healthz", time.Minute, func() (bool, error) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	t.Cleanup(func() { _ = env.client.CoreV1().Nodes().Delete(context.Background(), procNode, metav1.DeleteOptions{}) })
	// The metrics are served for real: API latency from real requests,
	// pods by phase, the work queue.
	framework.WaitFor(t, "the agent's metrics", time.Minute, func() (bool, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err
		}
		for _, want := range []string{"vnode_api_request_duration_seconds_count{code=", "vnode_pods{phase=\"Running\"}", "vnode_pod_queue_depth"} {
			if !strings.Contains(string(body), want) {
				return false, fmt.Errorf("/metrics lacks %s", want)
			}
		}
		return true, nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("vnode node exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("vnode node still runs 30 s after SIGTERM")
	}
}
