package aci

import (
	"context"
	"slices"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
)

// maxPollBackOff bounds the wait after failed polls.
const maxPollBackOff = 30 * time.Second

// pollInterval is the wait before the next poll: fast while a group is
// busy (changing state, being created or deleted), slow when all are
// steady, and doubling from fast up to maxPollBackOff after failures.
func pollInterval(busy bool, failures int, fast, slow time.Duration) time.Duration {
	if failures > 0 {
		d := fast
		for i := 0; i < failures && d < maxPollBackOff; i++ {
			d *= 2
		}
		return min(d, maxPollBackOff)
	}
	if busy {
		return fast
	}
	return slow
}

// run polls until ctx ends.
func (b *Backend) run(ctx context.Context) {
	failures := 0
	for {
		t := b.cfg.Clock.NewTimer(pollInterval(b.busy(), failures, b.cfg.FastPoll, b.cfg.SlowPoll))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-b.kick:
			t.Stop()
		}
		if err := b.poll(ctx, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			b.log.Info("polling container groups failed", "failures", failures, "err", err)
			continue
		}
		failures = 0
	}
}

// busy reports whether any group needs fast polling.
func (b *Backend) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		if e.busy() {
			return true
		}
	}
	return false
}

// poll refreshes the groups' states and publishes the changes. With the
// list-instance-view extension it is one (paged) list; without it, a list
// every SlowPoll to find groups that appeared, changed provisioning state
// or vanished, and GETs for the groups that need them (see readGroups).
// full reads every group, waiting for read tokens: the first poll, for
// adoption.
func (b *Backend) poll(ctx context.Context, full bool) error {
	b.pollMu.Lock()
	defer b.pollMu.Unlock()
	if !b.ext.known() {
		// The answer announces the service's extensions.
		_, _, _ = b.capabilities(ctx)
	}
	start := b.cfg.Clock.Now()
	withView := b.ext.has(ExtListInstanceView)
	if withView || full || start.Sub(b.lastList) >= b.cfg.SlowPoll {
		views, err := b.listGroups(ctx, withView)
		if err != nil {
			return err
		}
		b.applyList(views, start, withView)
		b.lastList = start
	}
	if !withView || b.anyNeedsRead() {
		if err := b.readGroups(ctx, full && !withView, withView); err != nil {
			return err
		}
	}
	b.redelete(ctx)
	b.redeployDue(ctx)
	b.mu.Lock()
	b.synced = true
	b.mu.Unlock()
	return nil
}

// applyList applies a complete list: groups of this node that are not
// tracked are adopted; tracked groups missing from it are gone, unless
// their create was accepted after the list began.
func (b *Backend) applyList(views []view, start time.Time, withView bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]bool{}
	for _, v := range views {
		uid, ns, name := podIdentity(v.group)
		if uid == "" || tag(v.group.Tags, TagNodeName) != b.cfg.NodeName {
			continue
		}
		seen[string(uid)] = true
		e, ok := b.entries[uid]
		if !ok {
			e = &entry{uid: uid, namespace: ns, name: name, group: deref(v.group.Name), events: eventLog{}, needsRead: true}
			b.entries[uid] = e
		}
		if e.creating {
			continue
		}
		prov := ""
		if v.group.Properties != nil {
			prov = deref(v.group.Properties.ProvisioningState)
		}
		switch {
		case withView && v.hasInstanceView():
			b.applyViewLocked(e, v)
		case withView:
			e.needsRead = true // announced, but this list lacks instance views
		case prov != e.prov:
			e.needsRead = true
		}
	}
	for uid, e := range b.entries {
		if seen[string(uid)] || e.creating || e.acceptedAt.After(start) {
			continue
		}
		b.goneLocked(e)
	}
}

// goneLocked forgets a group that no longer exists.
func (b *Backend) goneLocked(e *entry) {
	if e.deleting || e.deleteAfterCreate {
		b.forgetLocked(e, backend.ReasonCompleted, "", 0)
		return
	}
	b.forgetLocked(e, backend.ReasonError, "the container group is gone: it was deleted outside the node", 137)
}

// applyViewLocked applies a group read with its instance view.
func (b *Backend) applyViewLocked(e *entry, v view) {
	now := b.cfg.Clock.Now()
	st := podState(v)
	st.Events = e.events.fresh(v, !e.primed)
	e.primed = true
	if v.group.Properties != nil {
		e.prov = deref(v.group.Properties.ProvisioningState)
	}
	e.lastRead, e.needsRead = now, false
	e.transition = inTransition(st, e.prov, now)
	b.redeployLocked(e, v.group, st, now)
	e.images = map[string]string{}
	for _, c := range slices.Concat(st.InitContainers, st.Containers) {
		e.images[c.Name] = c.Image
	}
	b.publishLocked(e, st)
}

// anyNeedsRead reports whether a group asks for a read of its own.
func (b *Backend) anyNeedsRead() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.entries {
		if e.needsRead && !e.creating {
			return true
		}
	}
	return false
}

// readCandidate is a group to read.
type readCandidate struct {
	e        *entry
	lastRead time.Time
}

// readGroups GETs, oldest read first, the groups that need it: new,
// changing, being deleted or asked for, plus steady ones not read for
// SteadyRefresh (only those asked for with onlyAsked). Reads take tokens
// from the read limiter; without full, what finds no token waits for the
// next poll.
func (b *Backend) readGroups(ctx context.Context, full, onlyAsked bool) error {
	now := b.cfg.Clock.Now()
	b.mu.Lock()
	var todo []readCandidate
	for _, e := range b.entries {
		if e.creating {
			continue
		}
		steadyDue := now.Sub(e.lastRead) >= b.cfg.SteadyRefresh
		if full || e.needsRead || (!onlyAsked && (e.transition || e.deleting || steadyDue)) {
			todo = append(todo, readCandidate{e, e.lastRead})
		}
	}
	b.mu.Unlock()
	slices.SortFunc(todo, func(a, c readCandidate) int { return a.lastRead.Compare(c.lastRead) })
	for _, c := range todo {
		if full {
			if err := b.reads.Wait(ctx); err != nil {
				return err
			}
		} else if !b.reads.Allow() {
			return nil
		}
		start := b.cfg.Clock.Now()
		v, err := b.getGroup(ctx, c.e.group)
		b.mu.Lock()
		e, ok := b.entries[c.e.uid]
		switch {
		case !ok || e != c.e || e.creating:
		case err != nil && isNotFound(err):
			if !e.acceptedAt.After(start) {
				b.goneLocked(e)
			}
		case err != nil:
			b.mu.Unlock()
			return classify(err, "read container group "+c.e.group)
		default:
			b.applyViewLocked(e, v)
		}
		b.mu.Unlock()
	}
	return nil
}

// redelete sends again the deletes that have not finished for a while.
func (b *Backend) redelete(ctx context.Context) {
	b.mu.Lock()
	var stale []*entry
	for _, e := range b.entries {
		if e.deleting && b.cfg.Clock.Since(e.deleteSent) >= redeleteAfter {
			stale = append(stale, e)
		}
	}
	b.mu.Unlock()
	for _, e := range stale {
		if err := b.Delete(ctx, e.uid, e.grace); err != nil {
			b.log.Info("deleting a container group again failed", "group", e.group, "err", err)
		}
	}
}

// List implements backend.Backend: the states of this node's groups. The
// first call reads every group (adoption after a restart); later calls
// answer from what the poller knows.
func (b *Backend) List(ctx context.Context) ([]*backend.PodState, error) {
	b.mu.Lock()
	synced := b.synced
	b.mu.Unlock()
	if !synced {
		if err := b.poll(ctx, true); err != nil {
			return nil, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*backend.PodState
	for _, e := range b.entries {
		if e.state != nil {
			out = append(out, e.state.DeepCopy())
		}
	}
	return out, nil
}
