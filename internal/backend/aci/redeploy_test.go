package aci

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// A lost group is deployed again at once the first time, as the kubelet
// restarts a stopped container; later failures and pull failures wait the
// doubling back-off, with a BackOff event.
func TestRedeployBackOff(t *testing.T) {
	b := &Backend{cfg: Config{ImagePullBackOff: 10 * time.Second}}
	now := time.Unix(1_700_000_000, 0)
	lost := func() *backend.PodState {
		return &backend.PodState{Failed: true, Events: []backend.Event{{Type: corev1.EventTypeWarning, Reason: "Failed"}}}
	}
	e := &entry{group: "g"}

	st := lost()
	b.redeployLocked(e, nil, st, now)
	if !e.redeployAt.Equal(now) || len(st.Events) != 1 {
		t.Fatalf("first failure: redeploy at %v (want now), events %+v", e.redeployAt.Sub(now), st.Events)
	}
	e.redeployAt = time.Time{} // deployed again; it fails again
	st = lost()
	b.redeployLocked(e, nil, st, now)
	if got := e.redeployAt.Sub(now); got != 10*time.Second || len(st.Events) != 2 || st.Events[1].Reason != "BackOff" {
		t.Fatalf("second failure: redeploy after %v (want 10s), events %+v", got, st.Events)
	}
	e.redeployAt = time.Time{}
	b.redeployLocked(e, nil, lost(), now)
	if got := e.redeployAt.Sub(now); got != 20*time.Second {
		t.Errorf("third failure: redeploy after %v, want 20s", got)
	}

	pull := &entry{group: "p"}
	st = &backend.PodState{Containers: []backend.ContainerState{{Name: "c", State: backend.Waiting, Reason: "ErrImagePull"}}}
	b.redeployLocked(pull, nil, st, now)
	if got := pull.redeployAt.Sub(now); got != 10*time.Second {
		t.Errorf("pull failure: redeploy after %v, want 10s", got)
	}
}

// A group the agent stopped is never deployed again, whatever it reports
// and whatever was scheduled before the stop.
func TestStoppedGroupIsNotRedeployed(t *testing.T) {
	b := &Backend{cfg: Config{ImagePullBackOff: 10 * time.Second}}
	now := time.Unix(1_700_000_000, 0)
	e := &entry{group: "g", stopped: true, redeployAt: now}
	st := &backend.PodState{Failed: true, Events: []backend.Event{{Type: corev1.EventTypeWarning, Reason: "Failed"}},
		Containers: []backend.ContainerState{{Name: "c", State: backend.Waiting, Reason: "ErrImagePull"}}}
	b.redeployLocked(e, nil, st, now)
	if !e.redeployAt.IsZero() || len(st.Events) != 1 || st.Containers[0].Reason != "ErrImagePull" {
		t.Errorf("stopped group: redeploy at %v, events %+v, container %+v; want it left alone", e.redeployAt, st.Events, st.Containers[0])
	}
}
