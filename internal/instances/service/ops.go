package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/store"
)

// newOperation starts tracking an operation on g. Callers hold s.mu and
// persist it.
func (s *Service) newOperation(g *group, kind string) *store.Operation {
	op := &store.Operation{ID: newID(), GroupKey: g.key, GroupUID: g.uid, Kind: kind, Status: OpInProgress,
		Subscription: g.sub, Location: g.location, StartTime: s.clock.Now().UTC()}
	g.op = op
	return op
}

// launch runs op in the background. Callers hold s.mu.
func (s *Service) launch(g *group, op *store.Operation) {
	timeout := config.OperationTimeout
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	g.opCancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		s.execute(ctx, g.uid, op)
	}()
}

// execute carries out one operation against the runtime.
func (s *Service) execute(ctx context.Context, uid string, op *store.Operation) {
	switch op.Kind {
	case kindDelete:
		s.mu.Lock()
		var grace time.Duration
		if g := s.byUID[uid]; g != nil {
			grace = g.deleteGrace
		}
		s.mu.Unlock()
		s.executeDelete(ctx, uid, op, grace)
	default:
		s.executeDeploy(ctx, uid, op)
	}
}

// executeDeploy runs a create, update or start: the group's containers are
// (re)created from its spec.
func (s *Service) executeDeploy(ctx context.Context, uid string, op *store.Operation) {
	s.mu.Lock()
	g := s.current(uid, op)
	if g == nil {
		s.mu.Unlock()
		return
	}
	if op.Kind == kindCreate || op.Kind == kindStart {
		g.provisioning = ProvisioningCreating
	}
	spec, err := runtimeSpec(g.uid, g.name, ResourceID(g.sub, g.rg, g.name), g.spec, g.secrets, g.ext)
	redeploy := op.Kind != kindCreate
	g.stopped = false
	if err == nil {
		err = s.persist(ctx, g)
	}
	if err == nil {
		// Billing starts with the deployment (image pulls included).
		s.openUsage(ctx, g, s.clock.Now())
	}
	s.mu.Unlock()

	if err == nil && redeploy {
		if rerr := s.rt.Remove(ctx, uid, 0); rerr != nil {
			err = fmt.Errorf("remove the previous deployment: %w", rerr)
		}
	}
	if err == nil {
		err = s.rt.Run(ctx, spec)
	}
	s.finishDeploy(ctx, uid, op, err)
}

func (s *Service) finishDeploy(ctx context.Context, uid string, op *store.Operation, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.current(uid, op)
	if g == nil {
		// Deleted or canceled meanwhile: the delete removes what Run made.
		return
	}
	if s.ctx.Err() != nil {
		// The service is shutting down: the operation stays in progress
		// and the next Open resumes it.
		return
	}
	now := s.clock.Now()
	if err != nil {
		code, msg := deployError(ctx, err)
		s.log.Info("deployment failed", "group", g.key, "operation", op.ID, "code", code, "err", err)
		g.provisioning = ProvisioningFailed
		s.addEvents(ctx, g, []runtime.Event{{Name: backend.EventFailed, Message: msg, Type: "Warning", Time: now}})
		s.closeUsage(ctx, g, now)
		s.endOperation(ctx, g, OpFailed, code, msg)
		return
	}
	g.provisioning = ProvisioningSucceeded
	if st, serr := s.rt.Status(ctx, uid); serr == nil {
		s.setStatus(g, st)
	}
	if !holdsCompute(g) {
		s.closeUsage(ctx, g, s.finishTime(g, now))
	}
	s.endOperation(ctx, g, OpSucceeded, "", "")
}

// deployError turns a runtime failure into the operation's ARM code and message.
func deployError(ctx context.Context, err error) (code, msg string) {
	var rerr *runtime.Error
	switch {
	case errors.As(err, &rerr):
		return rerr.Reason, rerr.Message
	case ctx.Err() == context.DeadlineExceeded:
		return "DeploymentTimeout", fmt.Sprintf("The container group did not start within %s.", config.OperationTimeout)
	default:
		return "ContainerGroupDeploymentFailed", "The container group could not be deployed: " + err.Error()
	}
}

// executeDelete removes the group from the runtime, then from the store.
func (s *Service) executeDelete(ctx context.Context, uid string, op *store.Operation, grace time.Duration) {
	err := s.rt.Remove(ctx, uid, grace)
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.current(uid, op)
	if g == nil || s.ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("delete failed; will retry", "group", g.key, "err", err)
		code, msg := "ContainerGroupDeletionFailed", "The container group could not be deleted: "+err.Error()
		s.endOperation(ctx, g, OpFailed, code, msg)
		return
	}
	s.closeUsage(ctx, g, s.clock.Now())
	if err := s.store.DeleteGroup(ctx, g.key, g.uid); err != nil {
		s.endOperation(ctx, g, OpFailed, "InternalServerError", "The container group's record could not be deleted.")
		return
	}
	s.uncount(g)
	delete(s.groups, g.key)
	delete(s.byUID, g.uid)
	op.Status, op.EndTime = OpSucceeded, s.clock.Now().UTC()
	if err := s.store.PutOperation(ctx, op); err != nil {
		s.log.Warn("record operation", "operation", op.ID, "err", err)
	}
}

// current returns the group uid if op is still its operation. Callers hold s.mu.
func (s *Service) current(uid string, op *store.Operation) *group {
	g := s.byUID[uid]
	if g == nil || g.op != op {
		return nil
	}
	return g
}

// endOperation records op's end and releases the group for the next one.
// Callers hold s.mu.
func (s *Service) endOperation(ctx context.Context, g *group, status, code, msg string) {
	op := g.op
	if op == nil {
		return
	}
	op.Status, op.EndTime, op.ErrorCode, op.ErrorMessage = status, s.clock.Now().UTC(), code, msg
	if g.opCancel != nil && status == OpCanceled {
		g.opCancel()
	}
	g.op, g.opCancel = nil, nil
	if err := s.persist(ctx, g); err != nil {
		s.log.Warn("save group", "group", g.key, "err", err)
	}
	if err := s.store.PutOperation(ctx, op); err != nil {
		s.log.Warn("record operation", "operation", op.ID, "err", err)
	}
}

// Operation returns an operation's status, for the Azure-AsyncOperation URL.
func (s *Service) Operation(ctx context.Context, sub, location, id string) (*store.Operation, error) {
	op, err := s.store.Operation(ctx, id)
	if err != nil || !strings.EqualFold(op.Subscription, sub) || op.Location != config.NormalizeLocation(location) {
		return nil, errdefs.ResourceNotFound("locations/"+location+"/operations", id, "")
	}
	return op, nil
}

// openUsage starts metering g. Callers hold s.mu.
func (s *Service) openUsage(ctx context.Context, g *group, at time.Time) {
	loc, _ := s.cfg.Location(g.location)
	cpu, mem := totals(g.spec)
	_, err := s.store.OpenInterval(ctx, store.Interval{GroupUID: g.uid, Subscription: g.sub, ResourceGroup: g.rg,
		Name: g.name, Location: g.location, CPU: cpu, MemoryGB: mem, PriceVCPU: loc.Prices.VCPUSecond,
		PriceGB: loc.Prices.GBSecond, Currency: loc.Prices.Currency, Start: store.UnixSeconds(at)})
	if err != nil {
		s.log.Error("start metering", "group", g.key, "err", err)
	}
}

// closeUsage stops metering g at the given time. Callers hold s.mu.
func (s *Service) closeUsage(ctx context.Context, g *group, at time.Time) {
	if err := s.store.CloseInterval(ctx, g.uid, store.UnixSeconds(at)); err != nil {
		s.log.Error("stop metering", "group", g.key, "err", err)
	}
}

// finishTime is when the last container of a finished group stopped, or
// fallback when the runtime did not say.
func (s *Service) finishTime(g *group, fallback time.Time) time.Time {
	var last time.Time
	for _, c := range g.status.Containers {
		if c.Current.State == runtime.StateTerminated && c.Current.FinishTime.After(last) {
			last = c.Current.FinishTime
		}
	}
	if last.IsZero() || last.After(fallback) {
		return fallback
	}
	return last
}
