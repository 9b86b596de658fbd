package node

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// The README's example, applied with kubectl, runs on the virtual node.
func TestExampleManifestWithKubectl(t *testing.T) {
	ns := newNamespace(t)
	manifest := filepath.Join(framework.RepoRoot(), "examples", "aks-virtual-node-sample.yaml")
	out, err := exec.Command(env.binaries.Path(k8sbin.Kubectl), "--kubeconfig", env.cluster.Kubeconfig(),
		"apply", "-n", ns, "-f", manifest).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	framework.WaitFor(t, "the sample pod Running and Ready on the virtual node", time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return err == nil && countRunningReady(pods) == 1, err
	})
}
