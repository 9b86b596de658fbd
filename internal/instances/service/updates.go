package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// updateQueue coalesces the runtime's reports per group: the newest status
// wins, events accumulate, and the consumer never blocks the runtime.
type updateQueue struct {
	mu      sync.Mutex
	pending map[string]*runtime.Update
	order   []string
	signal  chan struct{}
	closed  bool
}

func newUpdateQueue() *updateQueue {
	return &updateQueue{pending: map[string]*runtime.Update{}, signal: make(chan struct{}, 1)}
}

func (q *updateQueue) push(u runtime.Update) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	id := u.Status.ID
	if p := q.pending[id]; p != nil {
		// The newest report wins (a redeploy removes and re-runs the same
		// id); events accumulate.
		p.Status = u.Status
		p.Events = append(p.Events, u.Events...)
		p.Removed = u.Removed
	} else {
		c := u
		q.pending[id] = &c
		q.order = append(q.order, id)
	}
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take returns the pending updates in arrival order, or false once closed.
func (q *updateQueue) take() ([]runtime.Update, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, false
		}
		if len(q.order) > 0 {
			out := make([]runtime.Update, 0, len(q.order))
			for _, id := range q.order {
				out = append(out, *q.pending[id])
			}
			q.pending, q.order = map[string]*runtime.Update{}, nil
			q.mu.Unlock()
			return out, true
		}
		q.mu.Unlock()
		<-q.signal
	}
}

func (q *updateQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// applyUpdates folds the runtime's reports into the groups until Close.
func (s *Service) applyUpdates() {
	for {
		batch, ok := s.updates.take()
		if !ok {
			return
		}
		s.mu.Lock()
		for _, u := range batch {
			s.applyUpdate(s.ctx, u)
		}
		s.mu.Unlock()
	}
}

// applyUpdate records one report. Callers hold s.mu.
func (s *Service) applyUpdate(ctx context.Context, u runtime.Update) {
	g := s.byUID[u.Status.ID]
	if g == nil || u.Removed {
		// A group being deleted or redeployed; its record is handled by the operation.
		if g != nil {
			s.addEvents(ctx, g, u.Events)
		}
		return
	}
	wasActive := holdsCompute(g)
	s.addEvents(ctx, g, u.Events)
	if !s.setStatus(g, u.Status) {
		return // older than what the service read directly; events kept
	}
	if wasActive && !holdsCompute(g) && g.op == nil {
		// The group finished (restart policy Never/OnFailure): compute is released.
		s.closeUsage(ctx, g, s.finishTime(g, s.clock.Now()))
	}
	if err := s.persist(ctx, g); err != nil && ctx.Err() == nil {
		s.log.Warn("save group status", "group", g.key, "err", err)
	}
}

// reconcile brings the loaded state and the runtime together after a start:
// groups still running are re-attached, groups the runtime lost are marked
// so (and their metering ends when they were last known to run), operations
// interrupted by the restart are resumed, and runtime groups nobody owns are
// removed.
func (s *Service) reconcile(ctx context.Context) error {
	running, err := s.rt.List(ctx)
	if err != nil {
		return err
	}
	inRuntime := map[string]runtime.GroupStatus{}
	for _, st := range running {
		inRuntime[st.ID] = st
	}
	ops, err := s.store.OperationsInProgress(ctx)
	if err != nil {
		return err
	}
	beat := s.lastHeartbeat(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		g := s.byUID[op.GroupUID]
		if g == nil {
			op.Status, op.EndTime = OpSucceeded, s.clock.Now().UTC()
			if op.Kind != kindDelete {
				op.Status, op.ErrorCode, op.ErrorMessage = OpFailed, "ContainerGroupDeleted", "The container group no longer exists."
			}
			if err := s.store.PutOperation(ctx, op); err != nil {
				return err
			}
			continue
		}
		g.op = op
	}
	for _, g := range s.groups {
		st, ok := inRuntime[g.uid]
		delete(inRuntime, g.uid)
		switch {
		case g.op != nil:
			s.log.Info("resuming operation", "group", g.key, "operation", g.op.ID, "kind", g.op.Kind)
			s.launch(g, g.op)
		case ok:
			s.setStatus(g, st)
			if !holdsCompute(g) {
				s.closeUsage(ctx, g, s.finishTime(g, s.clock.Now()))
			}
			if err := s.persist(ctx, g); err != nil {
				return err
			}
		case holdsCompute(g):
			s.markLost(ctx, g, beat)
		}
	}
	for id := range inRuntime {
		s.log.Info("removing a runtime group no container group owns", "id", id)
		if err := s.rt.Remove(ctx, id, 0); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			s.log.Warn("remove orphaned runtime group", "id", id, "err", err)
		}
	}
	return nil
}

// setStatus applies a runtime report unless it is older than the one
// applied. Callers hold s.mu.
func (s *Service) setStatus(g *group, st runtime.GroupStatus) bool {
	if st.Generation != 0 && st.Generation < g.status.Generation {
		return false
	}
	g.status = st
	return true
}

// markLost records that the runtime no longer has a group that should be
// running. Its usage ends at the last second the service knew it ran.
// Callers hold s.mu.
func (s *Service) markLost(ctx context.Context, g *group, heartbeat int64) {
	end := s.clock.Now()
	if heartbeat > 0 {
		end = time.Unix(heartbeat, 0)
	}
	end = s.finishTime(g, end)
	msg := "The container group's containers are gone from the runtime (it stopped while the service was down). Start the group or re-create it."
	for i := range g.status.Containers {
		c := &g.status.Containers[i]
		if c.Current.State != runtime.StateTerminated {
			prev := c.Current
			c.Previous = &prev
			c.Current = runtime.ContainerState{State: runtime.StateTerminated, StartTime: prev.StartTime,
				FinishTime: end, ExitCode: 255, DetailStatus: "Lost"}
		}
	}
	g.provisioning = ProvisioningFailed
	s.addEvents(ctx, g, []runtime.Event{{Name: backend.EventFailed, Message: msg, Type: "Warning", Time: s.clock.Now()}})
	s.closeUsage(ctx, g, end)
	if err := s.persist(ctx, g); err != nil {
		s.log.Warn("save group", "group", g.key, "err", err)
	}
}
