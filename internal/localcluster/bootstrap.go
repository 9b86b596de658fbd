package localcluster

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// kubeletClientBinding lets the API server's kubelet client identity call
// the kubelet API of every node (logs, exec, port-forward), which nodes
// authorize with SubjectAccessReviews, as kubeadm sets up.
func kubeletClientBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vnode:kube-apiserver-kubelet-client"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:kubelet-api-admin"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "kube-apiserver-kubelet-client"}},
	}
}

// bootstrap creates the cluster-wide objects the local cluster relies on,
// once the API server is ready. It is idempotent.
func bootstrap(ctx context.Context, c *Cluster) error {
	client, err := c.client()
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	want := kubeletClientBinding()
	_, err = client.RbacV1().ClusterRoleBindings().Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := client.RbacV1().ClusterRoleBindings().Get(ctx, want.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("bootstrap: get %s: %w", want.Name, getErr)
		}
		existing.Subjects = want.Subjects
		_, err = client.RbacV1().ClusterRoleBindings().Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("bootstrap: create ClusterRoleBinding %s: %w", want.Name, err)
	}
	return nil
}

// labelNode gives the virtual node the role label AKS's virtual node has
// (kubernetes.io/role=agent, the ROLES column of kubectl get nodes), which
// the NodeRestriction admission plugin keeps the node from setting itself.
func labelNode(ctx context.Context, c *Cluster) error {
	client, err := c.client()
	if err != nil {
		return fmt.Errorf("label the virtual node: %w", err)
	}
	patch := []byte(`{"metadata":{"labels":{"kubernetes.io/role":"agent"}}}`)
	if _, err := client.CoreV1().Nodes().Patch(ctx, NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("label the virtual node %s: %w", NodeName, err)
	}
	return nil
}

// client returns an API client with admin rights.
func (c *Cluster) client() (kubernetes.Interface, error) {
	restConfig, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(restConfig)
}
