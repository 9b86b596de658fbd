// Package memory is an in-memory backend: workloads are simulated with
// configurable start and stop delays, failures and container exits. It
// serves unit tests, end-to-end tests of the agent and benchmarks.
package memory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend"
)

// Annotations that change how the in-memory backend treats one pod.
const (
	// AnnotationFailCreate makes Create fail with its value as message.
	AnnotationFailCreate = "memory.vnode.io/fail-create"
	// AnnotationExitAfter makes the containers exit after running for
	// this duration (Go syntax, e.g. "2s").
	AnnotationExitAfter = "memory.vnode.io/exit-after"
	// AnnotationExitCode is the exit code of such an exit; 0 by default.
	AnnotationExitCode = "memory.vnode.io/exit-code"
	// AnnotationTerminationMessage is the termination message containers
	// report when they exit (ExitContainer), as if they had written it to
	// their termination message file.
	AnnotationTerminationMessage = "memory.vnode.io/termination-message"
	// AnnotationFailInit names an init container that exits with 1 every
	// time it runs: under restartPolicy Never the pod stops there, under
	// the others it is retried with the restart back-off; the containers
	// never start.
	AnnotationFailInit = "memory.vnode.io/fail-init"
)

// Config tunes the simulation.
type Config struct {
	// StartDelay is how long a workload takes from Create to Running.
	StartDelay time.Duration
	// StopDelay is how long containers take to exit after Delete; when
	// it exceeds the grace period they are killed at the grace period.
	StopDelay time.Duration
	// RestartBackOff is the first back-off before a restart; it doubles
	// up to 5 minutes, as the kubelet's. 10s when zero.
	RestartBackOff time.Duration
	// Capacity of the node; backend.DefaultCapacity when nil.
	Capacity corev1.ResourceList
	// Subnet from which workloads get addresses; 10.241.0.0/16 when empty.
	Subnet string
	// Clock drives the delays; the real clock when nil.
	Clock clock.WithDelayedExecution
}

// Backend is the in-memory backend.
type Backend struct {
	backend.Dispatcher
	cfg    Config
	subnet *net.IPNet

	mu         sync.Mutex
	workloads  map[types.UID]*workload
	health     error
	listErr    error
	createHook func(*backend.Workload) error
	nextIP     uint32

	creates       atomic.Int64
	volumeUpdates atomic.Int64
	lists         atomic.Int64
	stops         atomic.Int64
}

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.Stopper       = (*Backend)(nil)
	_ backend.VolumeUpdater = (*Backend)(nil)
)

// workload is one simulated pod.
type workload struct {
	pod      *corev1.Pod
	state    *backend.PodState
	timers   []clock.Timer
	deleting bool
	// stopped is set by Stop: the containers stop for good, and the
	// workload stays until Delete.
	stopped bool
	// env is each container's environment, for exec.
	env map[string][]backend.EnvVar
	// volumes holds the volume files, as the last create or update gave them.
	volumes map[string][]backend.File
	// runs holds every run of each container, in order, for logs.
	runs map[string][]*containerRun
}

// New returns a backend configured by cfg.
func New(cfg Config) (*Backend, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.RestartBackOff == 0 {
		cfg.RestartBackOff = 10 * time.Second
	}
	if cfg.Capacity == nil {
		cfg.Capacity = backend.DefaultCapacity()
	}
	if cfg.Subnet == "" {
		cfg.Subnet = "10.241.0.0/16"
	}
	_, subnet, err := net.ParseCIDR(cfg.Subnet)
	if err != nil || subnet.IP.To4() == nil {
		return nil, fmt.Errorf("memory backend: subnet %q is not an IPv4 CIDR", cfg.Subnet)
	}
	return &Backend{cfg: cfg, subnet: subnet, workloads: map[types.UID]*workload{}, nextIP: 2}, nil
}

// SetHealth makes Health return err (nil: healthy); while unhealthy,
// Create fails with a retryable error.
func (b *Backend) SetHealth(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.health = err
}

// SetListError makes List fail with err (nil: List works).
func (b *Backend) SetListError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listErr = err
}

// SetCreateHook makes Create call hook first and fail with its error.
func (b *Backend) SetCreateHook(hook func(*backend.Workload) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.createHook = hook
}

// Lists counts the calls to List, failed ones included.
func (b *Backend) Lists() int64 { return b.lists.Load() }

// Creates counts the workloads created (not counting idempotent repeats).
func (b *Backend) Creates() int64 { return b.creates.Load() }

// Len returns how many workloads exist.
func (b *Backend) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.workloads)
}

// Workload returns the workload of the pod with uid, or nil.
func (b *Backend) Workload(uid types.UID) *backend.Workload {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w, ok := b.workloads[uid]; ok {
		return &backend.Workload{Pod: w.pod, Env: w.env, Volumes: w.volumes}
	}
	return nil
}

// Create implements backend.Backend.
func (b *Backend) Create(_ context.Context, w *backend.Workload) error {
	pod := w.Pod
	if msg, ok := pod.Annotations[AnnotationFailCreate]; ok {
		return fmt.Errorf("memory backend refuses the pod: %s", msg)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.health != nil {
		return fmt.Errorf("%w: memory backend unhealthy: %v", backend.ErrRetryable, b.health)
	}
	if b.createHook != nil {
		if err := b.createHook(w); err != nil {
			return err
		}
	}
	if _, exists := b.workloads[pod.UID]; exists {
		return nil
	}
	now := b.cfg.Clock.Now()
	st := &backend.PodState{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name, StartTime: now}
	for _, c := range pod.Spec.InitContainers {
		st.InitContainers = append(st.InitContainers, waiting(c, backend.ReasonPodInitializing))
	}
	// Containers wait as PodInitializing while there are init containers
	// to run, as on a kubelet.
	pending := backend.ReasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		pending = backend.ReasonPodInitializing
	}
	for _, c := range pod.Spec.Containers {
		st.Containers = append(st.Containers, waiting(c, pending))
	}
	wl := &workload{pod: pod.DeepCopy(), state: st, env: w.Env, volumes: w.Volumes}
	b.workloads[pod.UID] = wl
	b.creates.Add(1)
	b.publishLocked(wl)
	b.after(wl, b.cfg.StartDelay, func() { b.start(pod.UID) })
	return nil
}

// UpdateVolumes implements backend.VolumeUpdater: the workload's files are
// replaced.
func (b *Backend) UpdateVolumes(_ context.Context, w *backend.Workload) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl := b.liveLocked(w.Pod.UID)
	if wl == nil {
		return fmt.Errorf("update volumes of %s/%s: %w", w.Pod.Namespace, w.Pod.Name, backend.ErrNotFound)
	}
	wl.volumes = w.Volumes
	b.volumeUpdates.Add(1)
	return nil
}

// VolumeUpdates counts UpdateVolumes calls that replaced files.
func (b *Backend) VolumeUpdates() int64 { return b.volumeUpdates.Load() }

func waiting(c corev1.Container, reason string) backend.ContainerState {
	return backend.ContainerState{Name: c.Name, State: backend.Waiting, Reason: reason, Image: c.Image}
}

// after runs fn after d on the backend's clock, remembering the timer so
// that Delete can cancel it.
func (b *Backend) after(wl *workload, d time.Duration, fn func()) {
	wl.timers = append(wl.timers, b.afterFunc(d, fn))
}

// afterFunc runs fn on a goroutine of its own after d: a fake clock calls
// its functions while holding its lock, and fn may set new timers.
func (b *Backend) afterFunc(d time.Duration, fn func()) clock.Timer {
	return b.cfg.Clock.AfterFunc(d, func() { go fn() })
}

// liveLocked returns the workload of uid unless it is gone, being deleted
// or stopped; timers that fire late find nothing to do.
func (b *Backend) liveLocked(uid types.UID) *workload {
	if wl, ok := b.workloads[uid]; ok && !wl.deleting && !wl.stopped {
		return wl
	}
	return nil
}

// start runs the init containers to completion and starts the containers.
func (b *Backend) start(uid types.UID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if wl := b.liveLocked(uid); wl != nil {
		b.startLocked(wl)
	}
}

// startLocked starts what of the workload has not run yet.
func (b *Backend) startLocked(wl *workload) {
	uid := wl.pod.UID
	now := b.cfg.Clock.Now()
	st := wl.state
	if st.IP == "" {
		st.IP = b.allocateIPLocked()
	}
	if !b.runInitsLocked(wl, now) {
		b.publishLocked(wl)
		return
	}
	for i := range st.Containers {
		c := &st.Containers[i]
		b.identify(uid, c)
		c.State, c.Reason, c.Message, c.StartedAt, c.Ready = backend.Running, "", "", now, true
		wl.beginRunLocked(c, now)
		st.Events = append(st.Events, startedEvents(c.Name, now)...)
	}
	// Timers are set before the push: whoever sees the state (a test
	// stepping a fake clock, say) must find them in place.
	b.scheduleExit(wl)
	b.publishLocked(wl)
}

// runInitsLocked runs the init containers that have not succeeded, in
// order, and reports whether all have. The one that AnnotationFailInit
// names fails: under Never the workload stops there, else it is retried
// after the back-off.
func (b *Backend) runInitsLocked(wl *workload, now time.Time) bool {
	st := wl.state
	for i := range st.InitContainers {
		c := &st.InitContainers[i]
		if c.State == backend.Terminated && c.ExitCode == 0 {
			continue
		}
		b.identify(wl.pod.UID, c)
		code := int32(0)
		if wl.pod.Annotations[AnnotationFailInit] == c.Name {
			code = 1
		}
		*c = terminated(*c, code, now, now)
		wl.beginRunLocked(c, now)
		wl.endRunLocked(c.Name, code, now)
		st.Events = append(st.Events, startedEvents(c.Name, now)...)
		if code == 0 {
			continue
		}
		if wl.pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
			backOff := min(b.cfg.RestartBackOff<<min(c.RestartCount, 5), 5*time.Minute)
			st.Events = append(st.Events, backend.Event{Type: corev1.EventTypeWarning, Reason: backend.EventBackOff,
				Message: "Back-off restarting failed container " + c.Name, Container: c.Name, Time: now})
			uid, name := wl.pod.UID, c.Name
			b.after(wl, backOff, func() { b.retryInit(uid, name) })
		}
		return false
	}
	return true
}

// retryInit runs a failed init container again, and what follows it once
// it succeeds.
func (b *Backend) retryInit(uid types.UID, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl := b.liveLocked(uid)
	if wl == nil {
		return
	}
	for i := range wl.state.InitContainers {
		if c := &wl.state.InitContainers[i]; c.Name == name && c.State == backend.Terminated {
			last := *c
			last.Last = nil
			c.Last = &last
			c.RestartCount++
		}
	}
	b.startLocked(wl)
}

func (b *Backend) identify(uid types.UID, c *backend.ContainerState) {
	c.ContainerID = "memory://" + string(uid) + "/" + c.Name
	c.ImageID = "memory://" + c.Image
}

func startedEvents(container string, now time.Time) []backend.Event {
	// No Pulled event: nothing is pulled, and every event is an API write.
	return []backend.Event{
		{Type: corev1.EventTypeNormal, Reason: backend.EventCreated, Message: "Created container " + container, Container: container, Time: now},
		{Type: corev1.EventTypeNormal, Reason: backend.EventStarted, Message: "Started container " + container, Container: container, Time: now},
	}
}

func terminated(c backend.ContainerState, code int32, started, finished time.Time) backend.ContainerState {
	c.State, c.ExitCode, c.StartedAt, c.FinishedAt, c.Ready = backend.Terminated, code, started, finished, false
	c.Reason, c.Message = backend.ReasonCompleted, ""
	if code != 0 {
		c.Reason = backend.ReasonError
	}
	return c
}

// scheduleExit arranges the exit that the pod's annotations ask for.
func (b *Backend) scheduleExit(wl *workload) {
	after, err := time.ParseDuration(wl.pod.Annotations[AnnotationExitAfter])
	if err != nil {
		return
	}
	code, _ := strconv.Atoi(wl.pod.Annotations[AnnotationExitCode])
	uid := wl.pod.UID
	b.after(wl, after, func() {
		for _, c := range wl.pod.Spec.Containers {
			_ = b.ExitContainer(uid, c.Name, int32(code))
		}
	})
}

// ExitContainer makes a running container exit with code, then restarts
// it according to the pod's restart policy.
func (b *Backend) ExitContainer(uid types.UID, name string, code int32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, ok := b.workloads[uid]
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, uid)
	}
	if wl.deleting || wl.stopped {
		return nil
	}
	now := b.cfg.Clock.Now()
	for i := range wl.state.Containers {
		c := &wl.state.Containers[i]
		if c.Name != name || c.State != backend.Running {
			continue
		}
		*c = terminated(*c, code, c.StartedAt, now)
		c.Message = wl.pod.Annotations[AnnotationTerminationMessage]
		wl.endRunLocked(name, code, now)
		if restarts(wl.pod.Spec.RestartPolicy, code) {
			b.scheduleRestart(wl, i)
		}
		b.publishLocked(wl)
		return nil
	}
	return fmt.Errorf("container %s of %s is not running", name, uid)
}

func restarts(policy corev1.RestartPolicy, code int32) bool {
	return policy == corev1.RestartPolicyAlways || policy == "" || (policy == corev1.RestartPolicyOnFailure && code != 0)
}

// scheduleRestart puts container i in CrashLoopBackOff and restarts it
// after the back-off, which doubles with every restart up to 5 minutes.
func (b *Backend) scheduleRestart(wl *workload, i int) {
	c := &wl.state.Containers[i]
	last := *c
	last.Last = nil
	backOff := b.cfg.RestartBackOff << min(c.RestartCount, 5)
	backOff = min(backOff, 5*time.Minute)
	c.Last = &last
	c.State, c.Reason = backend.Waiting, backend.ReasonCrashLoopBackOff
	c.Message = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s", backOff, c.Name, wl.pod.Name, wl.pod.Namespace)
	wl.state.Events = append(wl.state.Events, backend.Event{Type: corev1.EventTypeWarning, Reason: backend.EventBackOff, Message: "Back-off restarting failed container " + c.Name, Container: c.Name, Time: b.cfg.Clock.Now()})
	uid, name := wl.pod.UID, c.Name
	b.after(wl, backOff, func() { b.restart(uid, name) })
}

func (b *Backend) restart(uid types.UID, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl := b.liveLocked(uid)
	if wl == nil {
		return
	}
	now := b.cfg.Clock.Now()
	for i := range wl.state.Containers {
		c := &wl.state.Containers[i]
		if c.Name == name && c.State == backend.Waiting {
			c.State, c.Reason, c.Message, c.StartedAt, c.FinishedAt, c.ExitCode, c.Ready = backend.Running, "", "", now, time.Time{}, 0, true
			c.RestartCount++
			wl.beginRunLocked(c, now)
			wl.state.Events = append(wl.state.Events, startedEvents(c.Name, now)...)
		}
	}
	// Timers are set before the push: whoever sees the state (a test
	// stepping a fake clock, say) must find them in place.
	b.scheduleExit(wl)
	b.publishLocked(wl)
}

// Update implements backend.Backend: images may change in place (the
// containers restart with them); anything else needs a new workload.
func (b *Backend) Update(_ context.Context, w *backend.Workload) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, ok := b.workloads[w.Pod.UID]
	if !ok {
		return fmt.Errorf("%w: %s", backend.ErrNotFound, w.Pod.UID)
	}
	if len(w.Pod.Spec.Containers) != len(wl.pod.Spec.Containers) {
		return fmt.Errorf("%w: containers cannot be added or removed in place", backend.ErrNotSupported)
	}
	for i, c := range w.Pod.Spec.Containers {
		st := &wl.state.Containers[i]
		if st.Image != c.Image {
			st.Image, st.ImageID = c.Image, "memory://"+c.Image
		}
	}
	wl.pod = w.Pod.DeepCopy()
	if w.Env != nil {
		wl.env = w.Env
	}
	b.publishLocked(wl)
	return nil
}

// Delete implements backend.Backend.
func (b *Backend) Delete(_ context.Context, uid types.UID, grace time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, ok := b.workloads[uid]
	if !ok || wl.deleting {
		return nil
	}
	wl.deleting = true
	code, after := b.beginStopLocked(wl, grace)
	b.afterFunc(after, func() { b.finishStop(uid, code, true) })
	return nil
}

// Stop implements backend.Stopper: the containers stop as Delete stops
// them, and the workload stays, with its containers' last states and logs,
// until Delete.
func (b *Backend) Stop(_ context.Context, uid types.UID, grace time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, ok := b.workloads[uid]
	switch {
	case !ok:
		return fmt.Errorf("stop %s: %w", uid, backend.ErrNotFound)
	case wl.deleting || wl.stopped:
		return nil
	}
	wl.stopped = true
	b.stops.Add(1)
	code, after := b.beginStopLocked(wl, grace)
	b.afterFunc(after, func() { b.finishStop(uid, code, false) })
	return nil
}

// Stops counts the workloads Stop stopped (not counting repeats).
func (b *Backend) Stops() int64 { return b.stops.Load() }

// beginStopLocked cancels the workload's timers (no exit, restart or start
// comes any more), reports a Killing event for each running container and
// returns when the containers end and with which exit code: StopDelay, or
// the grace period if that is shorter, when they are killed (137).
func (b *Backend) beginStopLocked(wl *workload, grace time.Duration) (code int32, after time.Duration) {
	for _, t := range wl.timers {
		t.Stop()
	}
	wl.timers = nil
	after = b.cfg.StopDelay
	if after > grace {
		after, code = grace, 137 // killed at the end of the grace period
	}
	now := b.cfg.Clock.Now()
	for _, c := range wl.state.Containers {
		if c.State == backend.Running {
			wl.state.Events = append(wl.state.Events, backend.Event{Type: corev1.EventTypeNormal, Reason: backend.EventKilling, Message: "Stopping container " + c.Name, Container: c.Name, Time: now})
		}
	}
	b.publishLocked(wl)
	return code, after
}

// finishStop ends every container of the workload that is not terminated
// with code and pushes the state; with remove the workload goes too. A stop
// that a Delete overtook leaves the end to the Delete.
func (b *Backend) finishStop(uid types.UID, code int32, remove bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	wl, ok := b.workloads[uid]
	if !ok || wl.deleting && !remove {
		return
	}
	now := b.cfg.Clock.Now()
	for i := range wl.state.Containers {
		c := &wl.state.Containers[i]
		switch c.State {
		case backend.Running:
			*c = terminated(*c, code, c.StartedAt, now)
			wl.endRunLocked(c.Name, code, now)
		case backend.Waiting:
			*c = terminated(*c, code, now, now)
		}
	}
	for i := range wl.state.InitContainers {
		if c := &wl.state.InitContainers[i]; c.State != backend.Terminated {
			*c = terminated(*c, code, now, now)
		}
	}
	if remove {
		delete(b.workloads, uid)
	}
	b.publishLocked(wl)
}

// List implements backend.Backend.
func (b *Backend) List(context.Context) ([]*backend.PodState, error) {
	b.lists.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.listErr != nil {
		return nil, fmt.Errorf("%w: %v", backend.ErrRetryable, b.listErr)
	}
	out := make([]*backend.PodState, 0, len(b.workloads))
	for _, wl := range b.workloads {
		st := wl.state.DeepCopy()
		st.Events = nil
		out = append(out, st)
	}
	return out, nil
}

// Capacity implements backend.Backend.
func (b *Backend) Capacity(context.Context) (corev1.ResourceList, error) {
	return b.cfg.Capacity.DeepCopy(), nil
}

// Health implements backend.Backend.
func (b *Backend) Health(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.health
}

// publishLocked pushes the workload's state and clears its events, which
// are delivered once.
func (b *Backend) publishLocked(wl *workload) {
	b.Publish(wl.state)
	wl.state.Events = nil
}

// allocateIPLocked hands out the next address of the subnet.
func (b *Backend) allocateIPLocked() string {
	base := binary.BigEndian.Uint32(b.subnet.IP.To4())
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base+b.nextIP)
	b.nextIP++
	return ip.String()
}

// ErrUnhealthy is a convenient error for SetHealth.
var ErrUnhealthy = errors.New("simulated outage")
