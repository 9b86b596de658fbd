package node

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// LeaseNamespace holds node leases.
const LeaseNamespace = corev1.NamespaceNodeLease

// renewLease creates or renews the node's lease, owned by the Node so that
// deleting the node deletes it.
func (c *Controller) renewLease(ctx context.Context) error {
	leases := c.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(c.cfg.Clock.Now())
	lease, err := leases.Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: c.cfg.NodeName, Namespace: LeaseNamespace},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(c.cfg.NodeName),
				LeaseDurationSeconds: ptr.To(int32(c.cfg.LeaseDuration.Seconds())),
				RenewTime:            &now,
			},
		}
		c.setLeaseOwner(ctx, lease)
		if _, err := leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create lease %s: %w", c.cfg.NodeName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get lease %s: %w", c.cfg.NodeName, err)
	}
	lease.Spec.HolderIdentity = ptr.To(c.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(c.cfg.LeaseDuration.Seconds()))
	lease.Spec.RenewTime = &now
	if len(lease.OwnerReferences) == 0 {
		c.setLeaseOwner(ctx, lease)
	}
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renew lease %s: %w", c.cfg.NodeName, err)
	}
	return nil
}

func (c *Controller) setLeaseOwner(ctx context.Context, lease *coordinationv1.Lease) {
	node, err := c.cfg.Client.CoreV1().Nodes().Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return // the owner is set at the next renewal
	}
	lease.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
	}}
}
