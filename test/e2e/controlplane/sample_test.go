package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// applySample applies examples/aks-virtual-node-sample.yaml to the cluster
// of stateDir (its image on that cluster's registry port) with kubectl.
func applySample(t *testing.T, stateDir string, ports localcluster.Ports) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "examples", "aks-virtual-node-sample.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(fmt.Sprintf("127.0.0.1:%d/", localcluster.DefaultPorts().Registry)),
		[]byte(fmt.Sprintf("127.0.0.1:%d/", ports.Registry)))
	cmd := exec.Command(env.binaries.Path(k8sbin.Kubectl), "apply", "-f", "-")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(stateDir, "kubeconfig"))
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply the sample: %v\n%s", err, out)
	}
}

// waitSampleServing waits until the sample's one pod runs on the virtual
// node and answers HTTP at its IP, and returns the pod.
func waitSampleServing(t *testing.T, stateDir string) *corev1.Pod {
	t.Helper()
	rest, err := clientcmd.BuildConfigFromFlags("", filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	framework.WaitFor(t, "the sample's pod serving HTTP", 2*time.Minute, func() (bool, error) {
		pods, err := client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=aci-helloworld"})
		if err != nil || len(pods.Items) != 1 {
			return false, fmt.Errorf("pods: %v", err)
		}
		pod = &pods.Items[0]
		if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
			return false, fmt.Errorf("phase %s, reason %q", pod.Status.Phase, pod.Status.Reason)
		}
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + pod.Status.PodIP + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("GET /healthz: %s", resp.Status)
	})
	if pod.Spec.NodeName != localcluster.NodeName {
		t.Errorf("the sample runs on %q", pod.Spec.NodeName)
	}
	return pod
}
