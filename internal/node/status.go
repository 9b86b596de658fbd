package node

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/version"
)

// observation is what the agent knows about its backend at one moment.
type observation struct {
	capacity  corev1.ResourceList
	healthErr error
}

func (o observation) equal(other observation) bool {
	return equality.Semantic.DeepEqual(o.capacity, other.capacity) && errString(o.healthErr) == errString(other.healthErr)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// observe asks the backend for its capacity and health.
func (c *Controller) observe(ctx context.Context) observation {
	o := observation{healthErr: c.cfg.Provider.Health(ctx)}
	capacity, err := c.cfg.Provider.Capacity(ctx)
	if err != nil && o.healthErr == nil {
		o.healthErr = fmt.Errorf("capacity unknown: %w", err)
	}
	o.capacity = capacity
	return o
}

// conditions returns the node's conditions for observation o, keeping the
// transition time of each condition whose status did not change.
func conditions(o observation, previous []corev1.NodeCondition, now metav1.Time) []corev1.NodeCondition {
	ready := corev1.NodeCondition{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", Message: "vnode agent is posting ready status",
	}
	if o.healthErr != nil {
		ready.Status, ready.Reason = corev1.ConditionFalse, "BackendUnhealthy"
		ready.Message = "the backend cannot run pods: " + o.healthErr.Error()
	}
	out := []corev1.NodeCondition{
		ready,
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "the backend has memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "the backend has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "the backend has PIDs available"},
		{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", Message: "the backend gives every pod an address"},
	}
	for i := range out {
		out[i].LastHeartbeatTime = now
		out[i].LastTransitionTime = now
		for _, p := range previous {
			if p.Type == out[i].Type && p.Status == out[i].Status && !p.LastTransitionTime.IsZero() {
				out[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return out
}

// desiredStatus is the part of the node's status that this agent owns.
func (c *Controller) desiredStatus(o observation, previous []corev1.NodeCondition, now metav1.Time) corev1.NodeStatus {
	st := corev1.NodeStatus{
		Capacity:    o.capacity,
		Allocatable: o.capacity,
		Conditions:  conditions(o, previous, now),
		Addresses:   []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: c.cfg.NodeName}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{
			KubeletEndpoint: corev1.DaemonEndpoint{Port: c.cfg.Port},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion:          version.Kubernetes + "-vnode",
			ContainerRuntimeVersion: c.cfg.RuntimeVersion,
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
			KernelVersion:           kernelVersion(),
			OSImage:                 "vnode " + version.Version,
		},
	}
	if c.cfg.InternalIP != "" {
		st.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: c.cfg.InternalIP}}, st.Addresses...)
	}
	return st
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// updateStatus writes the agent's part of the node status with a
// strategic merge patch: conditions and addresses merge by type, so those
// that other actors set survive.
func (c *Controller) updateStatus(ctx context.Context, o observation) error {
	node, err := c.cfg.Client.CoreV1().Nodes().Get(ctx, c.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get node %s: %w", c.cfg.NodeName, err)
	}
	st := c.desiredStatus(o, node.Status.Conditions, metav1.NewTime(c.cfg.Clock.Now()))
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return fmt.Errorf("encode node status: %w", err)
	}
	_, err = c.cfg.Client.CoreV1().Nodes().Patch(ctx, c.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("patch status of node %s: %w", c.cfg.NodeName, err)
	}
	return nil
}
