package aci

import (
	"context"
	"fmt"
	"strings"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// maxRedeployBackOff bounds the wait between deployments of a group that
// failed, as the kubelet's image and crash back-offs do.
const maxRedeployBackOff = 5 * time.Minute

// redeployLocked follows a group that failed as a whole, as a kubelet
// follows a pod's containers:
//
//   - an image pull failure reports ErrImagePull, and ImagePullBackOff while
//     the backend waits to deploy the group again;
//   - any other failure of a group whose restart policy wants its
//     containers running (Always, OnFailure) — its containers lost with the
//     host that ran them, say — is deployed again too, while the pod keeps
//     the failure's reason.
//
// A group's first failure other than a pull is deployed again at once; a
// new failure after that (or any pull failure, or a fresh warning after a
// retry) schedules the next deployment after a back-off that doubles from
// ImagePullBackOff up to five minutes, with a BackOff event; a group that
// runs resets it. A group the agent stopped is left alone, as the kubelet
// never restarts the containers of a pod it killed. Callers hold
// Backend.mu.
func (b *Backend) redeployLocked(e *entry, g *aci.ContainerGroup, st *backend.PodState, now time.Time) {
	if e.stopped {
		e.redeployAt = time.Time{}
		return
	}
	pulls := pullFailedContainers(st)
	failed := len(pulls) > 0 || st.Failed && restartsAfterFailure(g)
	if !failed {
		e.redeployAt = time.Time{}
		if e.prov == provSucceeded {
			e.redeployBackOff = 0
		}
		return
	}
	if e.redeployAt.IsZero() && len(pulls) == 0 && e.redeployBackOff == 0 {
		// The first failure of a running group is answered at once, as
		// the kubelet restarts a container the first time it stops
		// without waiting; the back-off starts with the next failure.
		e.redeployBackOff, e.redeployAt = time.Nanosecond, now
		return
	}
	if e.redeployAt.IsZero() && (e.redeployBackOff == 0 || freshFailure(st.Events)) {
		e.redeployBackOff = min(max(2*e.redeployBackOff, b.cfg.ImagePullBackOff), maxRedeployBackOff)
		e.redeployAt = now.Add(e.redeployBackOff)
		if len(pulls) == 0 {
			st.Events = append(st.Events, backend.Event{Type: corev1.EventTypeWarning, Reason: backend.EventBackOff, Time: now,
				Message: fmt.Sprintf("Back-off %s deploying the failed container group %s again", e.redeployBackOff, e.group)})
		}
		for _, c := range pulls {
			st.Events = append(st.Events, backend.Event{Type: corev1.EventTypeWarning, Reason: backend.EventBackOff, Container: c.Name,
				Message: fmt.Sprintf("Back-off pulling image %q", c.Image), Time: now})
		}
		return
	}
	for _, c := range pulls {
		c.Reason = backend.ReasonImagePullBackOff
		c.Message = fmt.Sprintf("Back-off pulling image %q: %s", c.Image, c.Message)
	}
}

// restartsAfterFailure reports whether the group's restart policy wants its
// containers running after they failed (ACI's default is Always).
func restartsAfterFailure(g *aci.ContainerGroup) bool {
	if g == nil || g.Properties == nil || g.Properties.RestartPolicy == nil {
		return true
	}
	return !strings.EqualFold(string(*g.Properties.RestartPolicy), string(aci.ContainerGroupRestartPolicyNever))
}

// pullFailedContainers returns the containers of st waiting on a failed pull.
func pullFailedContainers(st *backend.PodState) []*backend.ContainerState {
	var out []*backend.ContainerState
	for _, list := range [][]backend.ContainerState{st.InitContainers, st.Containers} {
		for i := range list {
			if list[i].State == backend.Waiting && list[i].Reason == backend.ReasonErrImagePull {
				out = append(out, &list[i])
			}
		}
	}
	return out
}

// freshFailure reports whether events include a new failure of the service.
func freshFailure(events []backend.Event) bool {
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning && e.Reason != backend.EventBackOff {
			return true
		}
	}
	return false
}

// redeployDue deploys again, with ACI's start (which deploys a failed group
// anew from the spec the service keeps, secrets included), the groups
// whose back-off has passed.
func (b *Backend) redeployDue(ctx context.Context) {
	now := b.cfg.Clock.Now()
	b.mu.Lock()
	var due []*entry
	for _, e := range b.entries {
		if !e.redeployAt.IsZero() && !now.Before(e.redeployAt) && !e.deleting && !e.creating && !e.stopped {
			due = append(due, e)
		}
	}
	b.mu.Unlock()
	for _, e := range due {
		_, err := b.groups.BeginStart(ctx, b.cfg.ResourceGroup, e.group, nil)
		b.mu.Lock()
		if err != nil {
			e.redeployAt = now.Add(e.redeployBackOff)
			b.log.Info("deploying a failed group again failed", "group", e.group, "err", classify(err, "start"))
		} else {
			e.redeployAt = time.Time{}
			e.needsRead = true
		}
		b.mu.Unlock()
	}
}
