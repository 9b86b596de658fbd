package cri

import (
	"context"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// hasPostStart reports whether a container has a postStart hook.
func hasPostStart(c *container) bool {
	return !c.init && c.spec.Lifecycle != nil && c.spec.Lifecycle.PostStart != nil
}

// postStart runs the postStart hook of the container's attempt that
// createStart just started, as the kubelet does: the container counts as
// started (Running, then ready) only once the hook succeeded; when the
// hook fails, a FailedPostStartHook event says so and the container is
// killed, preStop hook included, so that its restart policy applies. A hook
// whose container is stopped meanwhile is cancelled, and its outcome
// dropped. A container without the hook is left alone.
func (r *Runtime) postStart(ctx context.Context, g *group, c *container) {
	r.mu.Lock()
	if !hasPostStart(c) || !c.inPostStart {
		r.mu.Unlock()
		return
	}
	cid, started := c.id, c.startedAt
	hookCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.cancelHook = cancel
	r.mu.Unlock()
	err := runHook(hookCtx, c.spec.Lifecycle.PostStart, r.hookTarget(g, c, cid))
	r.mu.Lock()
	if c.id != cid || !c.inPostStart {
		r.mu.Unlock()
		return // stopped meanwhile (see stopContainers), which reports the container
	}
	c.inPostStart, c.cancelHook = false, nil
	if ctx.Err() != nil || g.stopped || r.groups[g.spec.ID] != g {
		// The runtime or the deployment ends: the container is left as it
		// is, and the poll loop (of the next runtime) reports it.
		r.mu.Unlock()
		return
	}
	if err == nil {
		c.status.Current = runtime.ContainerState{State: runtime.StateRunning, StartTime: started}
		c.setVerdicts(true)
		g.dirty = true
		r.publish(g, false)
		r.mu.Unlock()
		return
	}
	// The event leaves out what the hook said: it may hold secrets.
	g.event(r, c.spec.Name, backend.EventFailedPostStartHook, "Warning", "PostStartHook failed")
	g.event(r, c.spec.Name, backend.EventKilling, "Normal", "FailedPostStartHook")
	c.killing = true
	r.publish(g, false)
	r.mu.Unlock()
	r.o.Logger.Info("postStart hook failed", "group", g.spec.ID, "container", c.spec.Name, "err", err)
	r.killContainer(ctx, g, c, cid, r.graceFor(g, 0))
	st, serr := r.containerStatus(ctx, g, c, cid)
	r.mu.Lock()
	defer r.mu.Unlock()
	c.killing = false
	if serr == nil && c.id == cid {
		r.applyCRIStatus(g, c, st)
	}
	r.publish(g, false)
}
