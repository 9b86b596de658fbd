package containerd

import (
	"context"
	"fmt"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Condition is one CRI runtime condition.
type Condition struct {
	Type    string
	Status  bool
	Reason  string
	Message string
}

// Status is what the CRI Status call reports.
type Status struct {
	// RuntimeReady is the RuntimeReady condition: containerd can run
	// containers.
	RuntimeReady bool
	// NetworkReady is the NetworkReady condition: the CRI plugin has
	// loaded a CNI network configuration.
	NetworkReady bool
	// Conditions lists every condition as reported.
	Conditions []Condition
}

// Status returns containerd's CRI runtime conditions.
func (d *Containerd) Status(ctx context.Context) (Status, error) {
	resp, err := d.runtime.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		return Status{}, fmt.Errorf("containerd: CRI status: %w", err)
	}
	var st Status
	for _, c := range resp.GetStatus().GetConditions() {
		st.Conditions = append(st.Conditions, Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message})
		switch c.Type {
		case runtimeapi.RuntimeReady:
			st.RuntimeReady = c.Status
		case runtimeapi.NetworkReady:
			st.NetworkReady = c.Status
		}
	}
	return st, nil
}
