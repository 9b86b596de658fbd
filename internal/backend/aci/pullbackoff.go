package aci

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// maxPullBackOff bounds the wait between attempts to pull a pod's images,
// as the kubelet's image back-off does.
const maxPullBackOff = 5 * time.Minute

// pullBackOffLocked follows a group whose image pull failed, as the kubelet
// follows a pod's: a new failure (the first, or a fresh failure event after
// a retry) reports ErrImagePull and schedules the next deployment after a
// back-off that doubles from ImagePullBackOff up to five minutes, with a
// BackOff event; while it waits, the containers show ImagePullBackOff. A
// group that runs resets the back-off. Callers hold Backend.mu.
func (b *Backend) pullBackOffLocked(e *entry, st *backend.PodState, now time.Time) {
	failed := pullFailedContainers(st)
	if len(failed) == 0 {
		e.pullRetryAt = time.Time{}
		if e.prov == provSucceeded {
			e.pullBackOff = 0
		}
		return
	}
	if e.pullRetryAt.IsZero() && (e.pullBackOff == 0 || freshPullFailure(st.Events)) {
		e.pullBackOff = min(max(2*e.pullBackOff, b.cfg.ImagePullBackOff), maxPullBackOff)
		e.pullRetryAt = now.Add(e.pullBackOff)
		for _, c := range failed {
			st.Events = append(st.Events, backend.Event{Type: corev1.EventTypeWarning, Reason: "BackOff", Container: c.Name,
				Message: fmt.Sprintf("Back-off pulling image %q", c.Image), Time: now})
		}
		return
	}
	for _, c := range failed {
		c.Reason = reasonImagePullBackOff
		c.Message = fmt.Sprintf("Back-off pulling image %q: %s", c.Image, c.Message)
	}
}

// pullFailedContainers returns the containers of st waiting on a failed pull.
func pullFailedContainers(st *backend.PodState) []*backend.ContainerState {
	var out []*backend.ContainerState
	for _, list := range [][]backend.ContainerState{st.InitContainers, st.Containers} {
		for i := range list {
			if list[i].State == backend.Waiting && list[i].Reason == reasonErrImagePull {
				out = append(out, &list[i])
			}
		}
	}
	return out
}

// freshPullFailure reports whether events include a new pull failure.
func freshPullFailure(events []backend.Event) bool {
	for _, e := range events {
		if e.Type == corev1.EventTypeWarning && e.Reason != "BackOff" && isPullFailure(e.Message) {
			return true
		}
	}
	return false
}

// retryPulls deploys again, with ACI's start (which deploys a failed group
// anew from the spec the service keeps, secrets included), the groups whose
// pull back-off has passed.
func (b *Backend) retryPulls(ctx context.Context) {
	now := b.cfg.Clock.Now()
	b.mu.Lock()
	var due []*entry
	for _, e := range b.entries {
		if !e.pullRetryAt.IsZero() && !now.Before(e.pullRetryAt) && !e.deleting && !e.creating {
			due = append(due, e)
		}
	}
	b.mu.Unlock()
	for _, e := range due {
		_, err := b.groups.BeginStart(ctx, b.cfg.ResourceGroup, e.group, nil)
		b.mu.Lock()
		if err != nil {
			e.pullRetryAt = now.Add(e.pullBackOff)
			b.log.Info("deploying a group again after a failed image pull failed", "group", e.group, "err", classify(err, "start"))
		} else {
			e.pullRetryAt = time.Time{}
			e.needsRead = true
		}
		b.mu.Unlock()
	}
}
