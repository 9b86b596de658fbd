package aci

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
)

// eventFailedKillPod is the kubelet's event reason when a pod's containers
// could not be stopped.
const eventFailedKillPod = "FailedKillPod"

// Stop implements backend.Stopper with ACI's stop (POST …/stop), with the
// grace period when the service takes one (vnode's grace-period extension;
// without it the service's own). A stopped group keeps its spec, its
// containers' last states and their logs until Delete, and the backend
// never deploys it again (see redeployLocked).
//
// vnode's service answers the stop once the containers have stopped, up
// to the grace period later, so the request is sent on a goroutine of its
// own, and retried while the service is busy or unavailable; Stop returns
// once the group is marked stopped, and the poller reports the containers
// terminated. A stop that the service refuses for good is reported as a
// FailedKillPod Warning event on the pod. A group being created is
// ErrRetryable; one being deleted is left to its delete.
func (b *Backend) Stop(_ context.Context, uid types.UID, grace time.Duration) error {
	b.mu.Lock()
	e, ok := b.entries[uid]
	switch {
	case !ok:
		b.mu.Unlock()
		return fmt.Errorf("stop the container group of pod %s: %w", uid, backend.ErrNotFound)
	case e.creating:
		b.mu.Unlock()
		return fmt.Errorf("%w: container group %s is being created", backend.ErrRetryable, e.group)
	case e.stopped || e.deleting || e.deleteAfterCreate:
		b.mu.Unlock()
		return nil
	}
	e.stopped, e.stopping, e.redeployAt = true, true, time.Time{}
	name := e.group
	b.mu.Unlock()
	go b.stopGroup(uid, name, grace)
	return nil
}

// stopGroup sends a group's stop until the service takes it (or the group
// is gone or being deleted, or the backend closes), with back-off from
// 1 s up to a minute while the answer is retryable.
func (b *Backend) stopGroup(uid types.UID, name string, grace time.Duration) {
	ctx, cancel := b.untilClosed()
	defer cancel()
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		_, err := b.groups.Stop(withExtras(ctx, requestExtras{query: b.graceQuery(grace)}), b.cfg.ResourceGroup, name, nil)
		if ctx.Err() != nil {
			return // the backend closed
		}
		err = classify(err, "stop container group "+name)
		if !b.stopAnswered(uid, name, err) {
			return
		}
		b.log.Info("stopping a container group failed; retrying", "group", name, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-b.cfg.Clock.After(delay):
		}
	}
}

// stopAnswered applies the answer to a group's stop and reports whether to
// send it again: not when the group went or is being deleted meanwhile,
// nor once the stop was taken (the poller reads the group at once) or
// refused for good (a Warning event on the pod says why).
func (b *Backend) stopAnswered(uid types.UID, name string, err error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[uid]
	switch {
	case !ok || e.group != name || e.deleting:
		return false
	case errors.Is(err, backend.ErrRetryable):
		return true
	case err != nil && !errors.Is(err, backend.ErrNotFound):
		b.log.Warn("stopping a container group failed", "group", name, "err", err)
		e.pending = append(e.pending, backend.Event{Type: corev1.EventTypeWarning, Reason: eventFailedKillPod,
			Message: "error killing pod: " + err.Error(), Time: b.cfg.Clock.Now()})
	}
	e.stopping, e.needsRead = false, true
	b.wake()
	return false
}

// untilClosed returns a context that ends when the backend closes.
func (b *Backend) untilClosed() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-b.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
