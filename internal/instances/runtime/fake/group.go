package fake

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// Event types.
const (
	normal  = "Normal"
	warning = "Warning"
)

// Detail statuses of containers the runtime stopped, for which the kubelet
// has no reason; the others are the backend package's reasons.
const (
	detailStopped = "Stopped"
	detailKilled  = "Killed"
)

// group is one incarnation of a container group. The Runtime's mutex guards it.
type group struct {
	id      string
	policy  runtime.RestartPolicy
	ip      string
	stopped bool
	removed bool
	// volumes are the group's volumes, secret files as last given.
	volumes []runtime.Volume
	inits   []*container
	mains   []*container
	// seq is the init containers then the main containers: the order in
	// which they are deployed.
	seq []*container
	// cursor indexes seq: the container being deployed or, for an init
	// container, run to completion. Containers before it have started.
	cursor int
	// pending are the events not yet published; dirty is set by any
	// change not yet published.
	pending []runtime.Event
	dirty   bool
	// gen is the runtime-wide generation of the last published change.
	gen uint64
}

// container is one container of a group.
type container struct {
	spec   runtime.ContainerSpec
	init   bool
	status runtime.ContainerStatus
	// started is set once the container has started in this incarnation.
	started bool
	// backoff is the delay before the next restart after an exit.
	backoff time.Duration
	// timer is the pending delay (pull, start, sleep or back-off), if any.
	timer *timer
	// proc is closed when the running process ends; nil when not running.
	proc chan struct{}
	logs []logLine
	// previous is the log of the run before the current one.
	previous []logLine
	// message is what the current run wrote to its termination message
	// file, its last runtime.MaxTerminationMessageBytes.
	message string
}

// logLine is one line of a container's log.
type logLine struct {
	time time.Time
	text string
}

// newGroup returns a group for spec, waiting to be deployed, with the
// containers' variables filled from the group set to ip. Containers named
// as one of old's get its current state as their previous one.
func newGroup(spec runtime.GroupSpec, ip string, old *group) *group {
	g := &group{id: spec.ID, policy: spec.RestartPolicy, ip: ip, dirty: true, volumes: copyVolumes(spec.Volumes)}
	if g.policy == "" {
		g.policy = runtime.RestartAlways
	}
	for _, s := range spec.InitContainers {
		s.Env = runtime.FillFieldEnv(s.Env, ip)
		g.inits = append(g.inits, newContainer(s, true, old))
	}
	for _, s := range spec.Containers {
		s.Env = runtime.FillFieldEnv(s.Env, ip)
		g.mains = append(g.mains, newContainer(s, false, old))
	}
	g.seq = slices.Concat(g.inits, g.mains)
	return g
}

// newContainer returns a waiting container with its own copy of the parts
// of spec it uses.
func newContainer(spec runtime.ContainerSpec, init bool, old *group) *container {
	spec.Command = slices.Clone(spec.Command)
	spec.Args = slices.Clone(spec.Args)
	spec.Env = slices.Clone(spec.Env)
	c := &container{spec: spec, init: init}
	c.status = runtime.ContainerStatus{
		Name:    spec.Name,
		Current: runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonContainerCreating},
	}
	if old == nil {
		return c
	}
	for _, o := range old.seq {
		if o.spec.Name == spec.Name {
			prev := o.status.Current
			c.status.Previous = &prev
		}
	}
	return c
}

// copyVolumes returns a copy of vols that shares no map or slice with it.
func copyVolumes(vols []runtime.Volume) []runtime.Volume {
	out := slices.Clone(vols)
	for i, v := range out {
		if v.Secret != nil {
			out[i].Secret = make(map[string][]byte, len(v.Secret))
			for name, data := range v.Secret {
				out[i].Secret[name] = slices.Clone(data)
			}
		}
		out[i].FileModes = maps.Clone(v.FileModes)
		if v.GitRepo != nil {
			repo := *v.GitRepo
			out[i].GitRepo = &repo
		}
		if v.AzureFile != nil {
			share := *v.AzureFile
			out[i].AzureFile = &share
		}
	}
	return out
}

// snapshot returns a deep copy of the group's status.
func (g *group) snapshot() runtime.GroupStatus {
	s := runtime.GroupStatus{ID: g.id, Generation: g.gen, IP: g.ip, Stopped: g.stopped}
	for _, c := range g.inits {
		s.InitContainers = append(s.InitContainers, copyContainerStatus(c.status))
	}
	for _, c := range g.mains {
		s.Containers = append(s.Containers, copyContainerStatus(c.status))
	}
	return s
}

// copyStatus returns a deep copy of s.
func copyStatus(s runtime.GroupStatus) runtime.GroupStatus {
	s.InitContainers = copyContainerStatuses(s.InitContainers)
	s.Containers = copyContainerStatuses(s.Containers)
	return s
}

func copyContainerStatuses(in []runtime.ContainerStatus) []runtime.ContainerStatus {
	if in == nil {
		return nil
	}
	out := make([]runtime.ContainerStatus, len(in))
	for i, s := range in {
		out[i] = copyContainerStatus(s)
	}
	return out
}

func copyContainerStatus(s runtime.ContainerStatus) runtime.ContainerStatus {
	if s.Previous != nil {
		prev := *s.Previous
		s.Previous = &prev
	}
	return s
}

// event records an event for publication; c is nil for a group event.
func (r *Runtime) event(g *group, c *container, typ, name, msg string) {
	ev := runtime.Event{Name: name, Message: msg, Type: typ, Time: r.clock.Now()}
	if c != nil {
		ev.Container = c.spec.Name
	}
	g.pending = append(g.pending, ev)
	g.dirty = true
}

// advance deploys the container at the group's cursor: pull, create, start.
func (r *Runtime) advance(g *group) {
	if g.cursor >= len(g.seq) {
		return
	}
	c := g.seq[g.cursor]
	img := c.spec.Image
	if r.cached[img] {
		r.event(g, c, normal, backend.EventPulled, fmt.Sprintf("container image %q already present on machine", img))
		r.create(g, c)
		return
	}
	r.event(g, c, normal, backend.EventPulling, fmt.Sprintf("pulling image %q", img))
	r.schedule(g, c, r.opts.PullDelay, func() {
		r.event(g, c, normal, backend.EventPulled, fmt.Sprintf("Successfully pulled image %q", img))
		r.create(g, c)
	})
}

// create creates a pulled container and starts it after the start delay.
func (r *Runtime) create(g *group, c *container) {
	r.event(g, c, normal, backend.EventCreated, "Created container "+c.spec.Name)
	r.schedule(g, c, r.opts.StartDelay, func() { r.firstStart(g, c) })
}

// firstStart starts a created container. After a main container the next
// one is deployed; after an init container, only once it exits with 0.
func (r *Runtime) firstStart(g *group, c *container) {
	c.started = true
	r.startProcess(g, c)
	if !c.init {
		g.cursor++
		r.advance(g)
	}
}

// startProcess sets a container running and runs its command.
func (r *Runtime) startProcess(g *group, c *container) {
	now := r.clock.Now()
	c.status.Current = runtime.ContainerState{State: runtime.StateRunning, StartTime: now}
	c.status.Ready = !c.init
	c.status.Started = !c.init
	c.proc = make(chan struct{})
	c.message = ""
	g.dirty = true
	r.event(g, c, normal, backend.EventStarted, "Started container "+c.spec.Name)
	c.log(now, fmt.Sprintf("container %s started", c.spec.Name))
	r.runCommand(g, c)
}

// runCommand does what a container's command and args, by the package's
// conventions, do once started. An init container whose command does not
// say otherwise exits with 0 at once.
func (r *Runtime) runCommand(g *group, c *container) {
	argv := normalize(slices.Concat(c.spec.Command, c.spec.Args))
	name := ""
	if len(argv) > 0 {
		name = commandName(argv)
	}
	switch name {
	case "exit":
		r.exit(g, c, exitCode(argv[1:]))
		return
	case "sleep":
		r.sleep(g, c, argv[1:])
		return
	case "echo":
		c.echo(r.clock.Now(), argv[1:])
	}
	if c.init {
		r.exit(g, c, 0)
	}
}

// sleep terminates a container with 0 once sleep's argument has passed.
func (r *Runtime) sleep(g *group, c *container, args []string) {
	d, err := sleepDuration(args)
	if err != nil {
		c.log(r.clock.Now(), err.Error())
		r.exit(g, c, 1)
		return
	}
	if d >= 0 {
		r.schedule(g, c, d, func() { r.exit(g, c, 0) })
	}
}

// exit terminates a running container's process with code and applies the
// restart policy: an init container that succeeded lets the next one
// deploy; a container that restarts does so after its back-off.
func (r *Runtime) exit(g *group, c *container, code int32) {
	c.cancelTimer()
	c.endProcess()
	now := r.clock.Now()
	start := c.status.Current.StartTime
	c.status.Current = terminated(start, now, code, exitDetail(code))
	c.status.Current.Message = c.terminationMessage(code)
	c.status.Ready = false
	c.status.Started = false
	g.dirty = true
	if c.init && code == 0 {
		g.cursor++
		r.advance(g)
		return
	}
	if !restarts(g.policy, code) {
		return
	}
	prev := c.status.Current
	c.status.Previous = &prev
	if now.Sub(start) >= backoffReset {
		c.backoff = 0
	}
	d := c.nextBackoff()
	if d == 0 {
		r.restart(g, c)
		return
	}
	c.status.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonCrashLoopBackOff}
	r.event(g, c, warning, backend.EventBackOff, fmt.Sprintf("Back-off %s restarting container %s", d, c.spec.Name))
	r.schedule(g, c, d, func() { r.restart(g, c) })
}

// restart starts a container's process again.
func (r *Runtime) restart(g *group, c *container) {
	c.status.RestartCount++
	c.previous, c.logs = c.logs, nil
	r.startProcess(g, c)
}

// restartGroup kills and restarts every main container that has started.
func (r *Runtime) restartGroup(g *group) {
	var started []*container
	for _, c := range g.mains {
		if !c.started {
			continue
		}
		started = append(started, c)
		// A container backing off keeps its last exit as Previous.
		backingOff := c.status.Current.State == runtime.StateWaiting
		r.kill(g, c, detailKilled)
		if !backingOff {
			prev := c.status.Current
			c.status.Previous = &prev
		}
	}
	for _, c := range started {
		c.backoff = 0
		r.restart(g, c)
	}
}

// kill ends a container's process or wait: a running container terminates
// with a Killing event, a waiting one terminates without having run.
func (r *Runtime) kill(g *group, c *container, detail string) {
	c.cancelTimer()
	c.endProcess()
	now := r.clock.Now()
	switch c.status.Current.State {
	case runtime.StateRunning:
		r.event(g, c, normal, backend.EventKilling, "Stopping container "+c.spec.Name)
		c.status.Current = terminated(c.status.Current.StartTime, now, 0, detail)
		c.status.Current.Message = c.terminationMessage(0)
	case runtime.StateWaiting:
		c.status.Current = terminated(time.Time{}, now, 0, detail)
	}
	c.status.Ready = false
	c.status.Started = false
	g.dirty = true
}

// schedule runs f after d on the clock, at once when d is not positive.
// The container has one pending delay at most.
func (r *Runtime) schedule(g *group, c *container, d time.Duration, f func()) {
	c.cancelTimer()
	if d <= 0 {
		f()
		return
	}
	c.timer = r.after(g, d, f)
}

// cancelTimer cancels the container's pending delay, if any.
func (c *container) cancelTimer() {
	c.timer.cancel()
	c.timer = nil
}

// endProcess marks the container's process as ended, if it runs.
func (c *container) endProcess() {
	if c.proc != nil {
		close(c.proc)
		c.proc = nil
	}
}

// nextBackoff returns the delay before the next restart and doubles it.
func (c *container) nextBackoff() time.Duration {
	d := c.backoff
	c.backoff = min(max(2*d, backoffInitial), backoffMax)
	return d
}

// log appends a line to the container's log, dropping the oldest beyond
// maxLogLines.
func (c *container) log(t time.Time, text string) {
	if len(c.logs) >= maxLogLines {
		c.logs = slices.Delete(c.logs, 0, len(c.logs)-maxLogLines+1)
	}
	c.logs = append(c.logs, logLine{time: t, text: text})
}

// echo runs echo's words: to the log, or with "> path" at their end to the
// termination message file when path is the container's.
func (c *container) echo(t time.Time, words []string) {
	n := len(words)
	if n < 2 || words[n-2] != ">" {
		c.log(t, joinArgs(words))
		return
	}
	if words[n-1] != c.spec.TerminationMessagePath {
		return
	}
	text, newline := words[:n-2], "\n"
	if len(text) > 0 && text[0] == "-n" {
		text, newline = text[1:], ""
	}
	c.message += joinArgs(text) + newline
	c.message = c.message[max(0, len(c.message)-runtime.MaxTerminationMessageBytes):]
}

// terminationMessage is the termination message of the current run, which
// ended with code.
func (c *container) terminationMessage(code int32) string {
	return runtime.TerminationMessage(c.spec.TerminationMessagePolicy, code, true,
		func() (string, error) { return c.message, nil },
		func(lines int, w io.Writer) error {
			for _, l := range c.tail(lines, time.Time{}, false) {
				if _, err := io.WriteString(w, l.text+"\n"); err != nil {
					return err
				}
			}
			return nil
		})
}

// tail returns a copy of the last n log lines, all when n is not positive.
func (c *container) tail(n int, since time.Time, previous bool) []logLine {
	lines := c.logs
	if previous {
		lines = c.previous
	}
	if !since.IsZero() {
		i := 0
		for i < len(lines) && lines[i].time.Before(since) {
			i++
		}
		lines = lines[i:]
	}
	if n > 0 && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	return slices.Clone(lines)
}

// terminated returns a terminated state.
func terminated(start, finish time.Time, code int32, detail string) runtime.ContainerState {
	return runtime.ContainerState{State: runtime.StateTerminated, StartTime: start,
		FinishTime: finish, ExitCode: code, DetailStatus: detail}
}

// exitDetail is the detail status of a process that exited with code.
func exitDetail(code int32) string {
	if code == 0 {
		return backend.ReasonCompleted
	}
	return backend.ReasonError
}

// restarts reports whether policy restarts a container that exited with code.
func restarts(policy runtime.RestartPolicy, code int32) bool {
	switch policy {
	case runtime.RestartNever:
		return false
	case runtime.RestartOnFailure:
		return code != 0
	default:
		return true
	}
}

// timer is a pending delay on the clock. The Runtime's mutex guards done.
type timer struct {
	stop chan struct{}
	done bool
}

// after runs f, then publishes g, with the Runtime's mutex held, once d
// has passed on the clock, unless the timer is cancelled first.
func (r *Runtime) after(g *group, d time.Duration, f func()) *timer {
	t := &timer{stop: make(chan struct{})}
	ct := r.clock.NewTimer(d)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case <-ct.C():
		case <-t.stop:
			ct.Stop()
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if t.done || r.closed {
			return
		}
		t.done = true
		f()
		r.publish(g)
	}()
	return t
}

// cancel stops a pending timer; it does nothing for nil or a timer that
// has fired or been cancelled.
func (t *timer) cancel() {
	if t == nil || t.done {
		return
	}
	t.done = true
	close(t.stop)
}
