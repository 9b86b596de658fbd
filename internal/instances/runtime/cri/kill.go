package cri

import (
	"context"
	"io"
	"net"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// graceFor is the grace period of a stop: the one asked for, else the
// group's own (its terminationGracePeriodSeconds), else the runtime's
// StopTimeout. Callers do not hold r.mu.
func (r *Runtime) graceFor(g *group, asked time.Duration) time.Duration {
	if asked > 0 {
		return asked
	}
	if spec := r.specOf(g); spec.GracePeriod != nil {
		return max(*spec.GracePeriod, 0)
	}
	return r.o.StopTimeout
}

// killContainer stops one attempt (cid) of a container as the kubelet's
// killContainer does: its preStop hook runs first and may take the whole
// grace period, then the container gets its stop signal and what is left
// of the grace period, at least runtime.MinStopGrace, before SIGKILL. A
// hook that fails gives a FailedPreStopHook event; one still running at
// the end of the grace period is abandoned. The caller records the
// Killing event.
func (r *Runtime) killContainer(ctx context.Context, g *group, c *container, cid string, grace time.Duration) {
	var preStop func(context.Context) error
	if l := c.spec.Lifecycle; l != nil && l.PreStop != nil {
		t := r.hookTarget(g, c, cid)
		preStop = func(ctx context.Context) error { return runHook(ctx, l.PreStop, t) }
	}
	failed := func(err error) {
		r.o.Logger.Info("preStop hook failed", "group", g.spec.ID, "container", c.spec.Name, "err", err)
		// The event leaves out what the hook said: it may hold secrets.
		r.groupEvent(g, c.spec.Name, backend.EventFailedPreStopHook, "Warning", "PreStopHook failed")
	}
	stopWithHook(ctx, r.o.Clock, grace, preStop, failed, func(timeout time.Duration) {
		if _, err := r.o.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: cid,
			Timeout: int64((timeout + time.Second - 1) / time.Second)}); err != nil && !isNotFound(err) {
			r.o.Logger.Warn("stop container", "group", g.spec.ID, "container", c.spec.Name, "err", err)
		}
	})
}

// stopWithHook runs preStop (when set and grace is positive) for at most
// grace, telling failed when it fails in time, and then stop with what is
// left of grace, at least runtime.MinStopGrace. A hook still running when
// grace ends, or when ctx does, has its context cancelled and is not
// waited for.
func stopWithHook(ctx context.Context, clk clock.Clock, grace time.Duration, preStop func(context.Context) error,
	failed func(error), stop func(timeout time.Duration)) {
	left := grace
	if preStop != nil && grace > 0 {
		began := clk.Now()
		hookCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- preStop(hookCtx) }()
		timer := clk.NewTimer(grace)
		select {
		case err := <-done:
			if err != nil {
				failed(err)
			}
		case <-timer.C():
		case <-ctx.Done():
		}
		timer.Stop()
		cancel()
		left = grace - clk.Since(began)
	}
	stop(max(left, runtime.MinStopGrace))
}

// hookTarget is where the hooks of one attempt (cid) of a container run:
// exec sessions in it, requests from its group's network namespace.
func (r *Runtime) hookTarget(g *group, c *container, cid string) hookTarget {
	r.mu.Lock()
	ip, sandbox := g.ip, g.sandboxID
	r.mu.Unlock()
	return hookTarget{
		exec: func(ctx context.Context, cmd []string, out io.Writer) (int, error) {
			resp, err := r.o.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: cid, Cmd: cmd, Stdout: true, Stderr: true})
			if err != nil {
				return 0, err
			}
			return stream(ctx, resp.Url, runtime.Streams{Stdout: out, Stderr: out})
		},
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ns, err := r.sandboxNetns(ctx, sandbox)
			if err != nil {
				return nil, err
			}
			return dialInNetns(ctx, ns, network, addr)
		},
		ip:    ip,
		clock: r.o.Clock,
		fellBack: func(host string) {
			r.groupEvent(g, c.spec.Name, backend.EventLifecycleHTTPFallback, "Warning",
				"request to HTTPS lifecycle hook %s got HTTP response, retry with HTTP succeeded", host)
		},
	}
}
