package node

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

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
// existing one while keeping everything else on it. An agent running as
// the node itself (system:node:<name>) may not set labels that the
// NodeRestriction admission plugin reserves, such as kubernetes.io/role:
// it then registers without them, and an administrator sets them, as
// kubeadm sets node roles (`vnode up` does).
func (c *Controller) register(ctx context.Context) error {
	labels := c.labels()
	err := c.registerWith(ctx, labels)
	if apierrors.IsForbidden(err) {
		if kept := unrestrictedLabels(labels); len(kept) < len(labels) {
			c.log.Warn("this identity may not set some of the node's labels (NodeRestriction); registering without them: an administrator must add them",
				"labels", restrictedLabels(labels))
			err = c.registerWith(ctx, kept)
		}
	}
	return err
}

// allowedByNodeRestriction reports the kubernetes.io and k8s.io labels
// that the NodeRestriction admission plugin lets a node set on itself;
// other labels in those domains are reserved for administrators.
func allowedByNodeRestriction(key string) bool {
	switch key {
	case "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
		"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
		"node.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/region",
		"failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/region", "topology.kubernetes.io/zone":
		return true
	}
	return false
}

// restrictedLabel reports whether NodeRestriction refuses a node setting key.
func restrictedLabel(key string) bool {
	domain, _, ok := strings.Cut(key, "/")
	if !ok || allowedByNodeRestriction(key) {
		return false
	}
	for _, free := range []string{"kubelet.kubernetes.io", "node.kubernetes.io"} {
		if domain == free || strings.HasSuffix(domain, "."+free) {
			return false
		}
	}
	for _, reserved := range []string{"kubernetes.io", "k8s.io"} {
		if domain == reserved || strings.HasSuffix(domain, "."+reserved) {
			return true
		}
	}
	return false
}

func unrestrictedLabels(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if !restrictedLabel(k) {
			out[k] = v
		}
	}
	return out
}

func restrictedLabels(labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		if restrictedLabel(k) {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

func (c *Controller) registerWith(ctx context.Context, labels map[string]string) error {
	nodes := c.cfg.Client.CoreV1().Nodes()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.cfg.NodeName, Labels: labels}}
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
		maps.Copy(updated.Labels, labels)
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
