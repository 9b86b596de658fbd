package system

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/test/e2e/framework"
)

// The manifests that add a virtual node to an existing cluster apply
// cleanly: the API server accepts every object, the agent's ClusterRole
// included, and they delete cleanly again.
func TestDeployManifestsApply(t *testing.T) {
	requireSuite(t)
	manifest := filepath.Join(framework.RepoRoot(), "deploy", "virtual-node.yaml")
	out := mustKubectl(t, nil, "apply", "-f", manifest)
	t.Cleanup(func() { kubectl(t, nil, "delete", "--ignore-not-found", "--wait=false", "-f", manifest) })
	for _, want := range []string{"namespace/vnode-system", "serviceaccount/virtual-node", "clusterrole.rbac.authorization.k8s.io/vnode:virtual-node",
		"clusterrolebinding.rbac.authorization.k8s.io/vnode:virtual-node", "secret/vnode-aci", "deployment.apps/virtual-node"} {
		if !strings.Contains(out, want+" created") {
			t.Errorf("kubectl apply did not create %s:\n%s", want, out)
		}
	}
	// The agent's account may do what a kubelet does for its pods.
	for _, check := range [][]string{{"create", "serviceaccounts", "token"}, {"update", "pods", "status"}, {"watch", "secrets", ""},
		{"create", "nodes", ""}, {"delete", "pods", ""}} {
		r := kubectl(t, nil, "auth", "can-i", check[0], check[1], "--subresource="+check[2], "--all-namespaces",
			"--as=system:serviceaccount:vnode-system:virtual-node")
		if strings.TrimSpace(r.stdout) != "yes" {
			t.Errorf("the agent's account cannot %s %s/%s: %s", check[0], check[1], check[2], r)
		}
	}
	if r := kubectl(t, nil, "auth", "can-i", "delete", "secrets", "--all-namespaces", "--as=system:serviceaccount:vnode-system:virtual-node"); strings.TrimSpace(r.stdout) != "no" {
		t.Errorf("the agent's account may delete secrets: %s", r)
	}
	d, err := env.Client.AppsV1().Deployments("vnode-system").Get(context.Background(), "virtual-node", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(d.Spec.Template.Spec.Containers[0].Command, " "); !strings.Contains(args, "--cluster-dns=10.0.0.10") {
		t.Errorf("the agent's command: %s", args)
	}
}
