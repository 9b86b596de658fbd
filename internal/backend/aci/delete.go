package aci

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// redeleteAfter is how long a delete may stay unfinished before the poller
// sends it again (the service may have failed it).
const redeleteAfter = time.Minute

// Delete implements backend.Backend. It sends the delete (with the grace
// period when the service takes one) and returns once it was accepted; the
// poller reports every container terminated once the group is gone. A
// delete during a create is sent as soon as the create was accepted, so no
// group is left behind.
func (b *Backend) Delete(ctx context.Context, uid types.UID, grace time.Duration) error {
	b.mu.Lock()
	e, ok := b.entries[uid]
	switch {
	case !ok:
		b.mu.Unlock()
		return nil
	case e.creating:
		e.deleteAfterCreate, e.grace = true, grace
		b.mu.Unlock()
		return nil
	case e.deleting && b.cfg.Clock.Since(e.deleteSent) < redeleteAfter:
		b.mu.Unlock()
		return nil
	}
	e.deleting, e.deleteSent, e.grace = true, b.cfg.Clock.Now(), grace
	name := e.group
	b.mu.Unlock()
	return b.sendDelete(ctx, uid, name, grace)
}

// deleteLater deletes a group whose create was accepted after its pod's
// Delete; it retries until the delete is accepted or the backend closes.
func (b *Backend) deleteLater(uid types.UID, grace time.Duration) {
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := b.Delete(ctx, uid, grace)
		cancel()
		if err == nil {
			return
		}
		b.log.Info("delete after create failed; retrying", "uid", uid, "err", err)
		select {
		case <-b.done:
			return
		case <-b.cfg.Clock.After(delay):
		}
	}
}

// graceQuery is the query that passes grace on with a DELETE or a stop
// when the service takes it (its grace-period extension); nil otherwise.
func (b *Backend) graceQuery(grace time.Duration) url.Values {
	if !b.ext.has(wire.ExtGracePeriod) {
		return nil
	}
	return url.Values{"gracePeriodSeconds": {strconv.FormatInt(graceSeconds(grace), 10)}}
}

// graceSeconds is grace in whole seconds as the service takes it: rounded
// up; at least 1, as the service reads 0 as its default (30 s); at most
// wire.MaxGracePeriodSeconds, which it refuses to exceed (a pod's
// terminationGracePeriodSeconds may be longer).
func graceSeconds(grace time.Duration) int64 {
	if grace >= wire.MaxGracePeriodSeconds*time.Second {
		return wire.MaxGracePeriodSeconds
	}
	return max(int64((grace+time.Second-1)/time.Second), 1)
}

// sendDelete sends a group's DELETE.
func (b *Backend) sendDelete(ctx context.Context, uid types.UID, name string, grace time.Duration) error {
	var resp *http.Response
	ctx = policy.WithCaptureResponse(withExtras(ctx, requestExtras{query: b.graceQuery(grace)}), &resp)
	_, err := b.groups.BeginDelete(ctx, b.cfg.ResourceGroup, name, nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[uid]
	if !ok {
		return nil
	}
	switch {
	case err != nil && isNotFound(err), err == nil && resp != nil && resp.StatusCode == http.StatusNoContent:
		b.forgetLocked(e, backend.ReasonCompleted, "", 0)
		return nil
	case err != nil:
		e.deleting = false
		return classify(err, "delete container group "+name)
	}
	e.needsRead = true
	b.wake()
	return nil
}
