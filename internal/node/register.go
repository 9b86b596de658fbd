package node

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// labels returns the labels the node must carry; AKS manifests select
// virtual nodes by them.
func (c *Controller) labels() map[string]string {
	l := map[string]string{
		"type":                   "virtual-kubelet",
		"kubernetes.io/role":     "agent",
		"kubernetes.io/os":       "linux",
		"beta.kubernetes.io/os":  "linux",
		"kubernetes.io/hostname": c.cfg.NodeName,
		"node.kubernetes.io/exclude-from-external-load-balancers": "true",
	}
	if c.cfg.Region != "" {
		l["topology.kubernetes.io/region"] = c.cfg.Region
	}
	maps.Copy(l, c.cfg.Labels)
	return l
}

// register creates the node, or adds this agent's labels and taint to an
// existing one while keeping everything else on it.
func (c *Controller) register(ctx context.Context) error {
	nodes := c.cfg.Client.CoreV1().Nodes()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.cfg.NodeName, Labels: c.labels()}}
	if c.cfg.Taint != nil {
		node.Spec.Taints = []corev1.Taint{*c.cfg.Taint}
	}
	_, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil || !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("register node %s: %w", c.cfg.NodeName, err)
		}
		return nil
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing, err := nodes.Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		updated := existing.DeepCopy()
		if updated.Labels == nil {
			updated.Labels = map[string]string{}
		}
		maps.Copy(updated.Labels, c.labels())
		if c.cfg.Taint != nil {
			updated.Spec.Taints = withTaint(updated.Spec.Taints, *c.cfg.Taint)
		}
		if maps.Equal(updated.Labels, existing.Labels) && len(updated.Spec.Taints) == len(existing.Spec.Taints) {
			return nil
		}
		_, err = nodes.Update(ctx, updated, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("update node %s: %w", c.cfg.NodeName, err)
	}
	return nil
}

// withTaint adds t unless a taint with its key and effect exists.
func withTaint(taints []corev1.Taint, t corev1.Taint) []corev1.Taint {
	for _, existing := range taints {
		if existing.Key == t.Key && existing.Effect == t.Effect {
			return taints
		}
	}
	return append(taints, t)
}
