package cri

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// every calls fn at each interval of the runtime's clock until Close.
func (r *Runtime) every(interval time.Duration, fn func(context.Context)) {
	t := r.o.Clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C():
		}
		fn(r.ctx)
	}
}

type probeTarget struct {
	g *group
	c *container
}

// pollOnce reads the containers' states, restarting the ones their policy
// says to, and tries again the containers whose configuration was wanting.
func (r *Runtime) pollOnce(ctx context.Context) {
	r.mu.Lock()
	var targets []probeTarget
	var advance []*group
	for _, g := range r.groups {
		if g.stopped || g.busy || g.sandboxID == "" {
			continue
		}
		if r.dueAdvance(g) {
			advance = append(advance, g)
		}
		for _, c := range g.activeContainers() {
			if !c.inPostStart && !c.killing {
				targets = append(targets, probeTarget{g, c})
			}
		}
	}
	r.mu.Unlock()
	for _, g := range advance {
		r.startAdvance(ctx, g)
	}
	if len(targets) == 0 {
		return
	}
	// One list tells which containers still run; only the others need
	// their full status (exit code, reason, times). A poll of many steady
	// groups then costs one CRI call, not one per container.
	stillRunning := map[string]bool{}
	if list, err := r.o.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err == nil {
		for _, c := range list.Containers {
			if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
				stillRunning[c.Id] = true
			}
		}
	}
	for _, tg := range targets {
		r.mu.Lock()
		unchanged := stillRunning[tg.c.id] && tg.c.status.Current.State == runtime.StateRunning
		r.mu.Unlock()
		var status *runtimeapi.ContainerStatus
		if !unchanged {
			st, err := r.containerStatus(ctx, tg.g, tg.c, tg.c.id)
			if err != nil {
				continue // removed meanwhile, or CRI busy: the next round sees it
			}
			status = st
		}
		r.mu.Lock()
		if r.groups[tg.g.spec.ID] != tg.g || tg.g.stopped || tg.g.busy || tg.c.inPostStart || tg.c.killing {
			r.mu.Unlock()
			continue
		}
		if status != nil {
			r.applyCRIStatus(tg.g, tg.c, status)
		}
		if tg.g.initSucceeded(tg.c) && r.dueAdvance(tg.g) {
			r.publish(tg.g, false)
			r.mu.Unlock()
			r.startAdvance(ctx, tg.g)
			continue
		}
		restart := r.dueRestart(tg.g, tg.c)
		due := r.dueProbes(tg.c, r.o.Clock.Now())
		r.publish(tg.g, false)
		r.mu.Unlock()
		if restart {
			r.restartContainer(ctx, tg.g, tg.c)
		}
		if due.any() {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.probeContainer(ctx, tg.g, tg.c, due)
			}()
		}
	}
}

// startAdvance runs advance for g in the background; dueAdvance marked it.
func (r *Runtime) startAdvance(ctx context.Context, g *group) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.advance(ctx, g)
	}()
}

// applyCRIStatus folds a CRI container status into c, with the termination
// message containerStatus read for it. Callers hold r.mu.
func (r *Runtime) applyCRIStatus(g *group, c *container, st *runtimeapi.ContainerStatus) {
	if st.ImageRef != "" && st.ImageRef != c.status.ImageID {
		c.status.ImageID = st.ImageRef
		g.dirty = true
	}
	var next runtime.ContainerState
	switch st.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		next = runtime.ContainerState{State: runtime.StateRunning, StartTime: time.Unix(0, st.StartedAt)}
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		next = runtime.ContainerState{State: runtime.StateTerminated, StartTime: time.Unix(0, st.StartedAt),
			FinishTime: time.Unix(0, st.FinishedAt), ExitCode: st.ExitCode, DetailStatus: exitReason(st)}
		if c.messageOf == st.Id {
			next.Message = c.message
		}
	default:
		return // created or unknown: keep what we have
	}
	if next.State == c.status.Current.State && next.ExitCode == c.status.Current.ExitCode &&
		next.StartTime.Equal(c.status.Current.StartTime) {
		return
	}
	c.status.Current = next
	// A container with a startup or readiness probe is started or ready
	// once the probe says so.
	c.setVerdicts(next.State == runtime.StateRunning)
	g.dirty = true
	if next.State == runtime.StateTerminated && next.DetailStatus == backend.ReasonOOMKilled {
		g.event(r, c.spec.Name, backend.ReasonOOMKilled, "Warning", "Container %s was killed: out of memory", c.spec.Name)
	}
}

func exitReason(st *runtimeapi.ContainerStatus) string {
	switch {
	case st.Reason == backend.ReasonOOMKilled: // containerd's word is the kubelet's
		return backend.ReasonOOMKilled
	case st.ExitCode == 0:
		return backend.ReasonCompleted
	}
	return backend.ReasonError
}

// dueRestart applies the restart policy to an exited container: it sets
// the back-off and reports whether the restart is due now. Callers hold r.mu.
func (r *Runtime) dueRestart(g *group, c *container) bool {
	cur := c.status.Current
	if cur.State != runtime.StateTerminated || c.init && cur.ExitCode == 0 {
		return false // running, or an init container that is done
	}
	switch g.spec.RestartPolicy {
	case runtime.RestartNever:
		return false
	case runtime.RestartOnFailure:
		if cur.ExitCode == 0 {
			return false
		}
	}
	now := r.o.Clock.Now()
	if c.nextStart.IsZero() {
		if cur.FinishTime.Sub(cur.StartTime) >= backoffReset {
			c.backoff = 0
		}
		if c.restarts > 0 || c.backoff > 0 {
			c.backoff = nextBackoff(c.backoff)
		}
		c.nextStart = now.Add(c.backoff)
		if c.backoff > 0 {
			g.event(r, c.spec.Name, backend.EventBackOff, "Warning", "Back-off %s restarting failed container %s", c.backoff, c.spec.Name)
		}
	}
	return !now.Before(c.nextStart)
}

// restartContainer starts the container's next attempt.
func (r *Runtime) restartContainer(ctx context.Context, g *group, c *container) {
	r.mu.Lock()
	prev := c.status.Current
	old := c.id
	c.attempt++
	c.restarts++
	c.status.Previous = &prev
	c.status.RestartCount = c.restarts
	c.status.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonCrashLoopBackOff}
	c.setVerdicts(false)
	c.nextStart = time.Time{}
	c.probes = probeState{}
	spec := g.spec
	r.mu.Unlock()
	mounts, err := r.volumePaths(spec)
	if err == nil {
		err = r.createStart(ctx, g, c, r.sandboxConfig(spec), mounts)
	}
	if errors.Is(err, errConfigWait) {
		// The exited container goes: the next tries are the
		// configuration wait's, whose state its own would overwrite.
		if old != "" {
			_, _ = r.o.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: old})
		}
		r.mu.Lock()
		if c.id == old {
			c.id = ""
		}
		r.mu.Unlock()
		return
	}
	if err != nil {
		r.groupEvent(g, c.spec.Name, backend.EventFailed, "Warning", "Restarting container %s failed: %v", c.spec.Name, err)
		return
	}
	_, _ = r.o.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: old})
	if hasPostStart(c) {
		// The poll loop does not wait for the hook.
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.postStart(r.ctx, g, c)
		}()
	}
}

// Stop stops every container (SIGTERM, then SIGKILL after StopTimeout) and
// the sandbox, which releases the IP.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	g, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if g.stopped {
		r.mu.Unlock()
		return nil
	}
	g.stopped = true
	g.busy = true
	r.mu.Unlock()
	defer r.setBusy(g, false)
	r.stopContainers(ctx, g, g.all(), grace)
	release, err := r.slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	if _, err := r.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: g.sandboxID}); err != nil && !isNotFound(err) {
		return fmt.Errorf("stop sandbox of %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g.ip = ""
	g.dirty = true
	r.publish(g, false)
	return nil
}

// stopContainers stops the running ones among cs at once, as the kubelet
// kills a pod's containers: each runs its preStop hook, then gets SIGTERM
// and SIGKILL after what is left of grace (see killContainer; graceFor
// when grace <= 0). A postStart hook still running is cancelled. It
// records their states.
func (r *Runtime) stopContainers(ctx context.Context, g *group, cs []*container, grace time.Duration) {
	grace = r.graceFor(g, grace)
	var wg sync.WaitGroup
	for _, c := range cs {
		r.mu.Lock()
		cid, state, cancelHook := c.id, c.status.Current.State, c.cancelHook
		if c.inPostStart { // the hook's outcome no longer counts
			c.inPostStart, c.cancelHook = false, nil
		}
		r.mu.Unlock()
		if cid == "" || state == runtime.StateTerminated {
			continue
		}
		if cancelHook != nil {
			cancelHook()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.groupEvent(g, c.spec.Name, backend.EventKilling, "Normal", "Stopping container %s", c.spec.Name)
			r.killContainer(ctx, g, c, cid, grace)
			if st, err := r.containerStatus(ctx, g, c, cid); err == nil {
				r.mu.Lock()
				r.applyCRIStatus(g, c, st)
				r.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// Restart restarts the group's containers in place.
func (r *Runtime) Restart(ctx context.Context, id string) error {
	r.mu.Lock()
	g, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if g.stopped {
		r.mu.Unlock()
		return fmt.Errorf("restart %s: %w", id, errStopped)
	}
	g.busy = true
	r.mu.Unlock()
	defer r.setBusy(g, false)
	r.stopContainers(ctx, g, g.mains, 0)
	for _, c := range g.mains {
		if c.id == "" {
			continue // not started yet: the init containers run
		}
		r.mu.Lock()
		c.backoff, c.nextStart = 0, time.Time{}
		r.mu.Unlock()
		r.restartContainer(ctx, g, c)
	}
	return nil
}

// Remove deletes the group: sandbox, containers, logs and volumes (file
// shares stay). A missing group is not an error.
func (r *Runtime) Remove(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	g := r.groups[id]
	if g != nil {
		g.busy = true
	}
	r.mu.Unlock()
	if g == nil {
		return nil
	}
	defer r.setBusy(g, false)
	if !g.stopped {
		r.stopContainers(ctx, g, g.all(), grace)
	}
	release, err := r.slot(ctx)
	if err != nil {
		return err
	}
	err = r.removeSandbox(ctx, g.sandboxID)
	release()
	if err != nil {
		return err
	}
	r.files.Lock()
	defer r.files.Unlock()
	if err := r.removeGroupFiles(r.specOf(g)); err != nil {
		return fmt.Errorf("remove the files of %s: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[id] == g {
		delete(r.groups, id)
	}
	r.publish(g, true)
	return nil
}

func (r *Runtime) setBusy(g *group, busy bool) {
	r.mu.Lock()
	g.busy = busy
	r.mu.Unlock()
}
