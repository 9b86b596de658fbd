// Package cri runs container groups on a CRI runtime (containerd): each
// group is one pod sandbox — one network namespace and IP, shared by its
// containers — and each container a CRI container in it.
//
// The runtime keeps each group's spec in a file of its own directory,
// sealed with the service's secret key (it holds the secure values,
// registry passwords and secret files the containers need), so that after a
// restart of the service it can re-attach to the sandboxes it finds in CRI
// and keep applying their restart policy. A poll loop follows the
// containers' states, restarts them as their policy says with the
// kubelet's back-off, and reports every change to the watchers.
//
// The group's directory also holds its volumes and its hosts file, which
// every container gets at /etc/hosts as a kubelet's pod does, its
// containers' termination message files, and its containers' logs, which
// the runtime rotates as the kubelet does. Secret
// volumes are laid out as the kubelet's AtomicWriter lays them out, so that
// UpdateVolumes changes their files at once under running containers.
package cri

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
	"github.com/vnode-io/vnode/internal/instances/sealer"
)

// Labels and names the runtime puts on what it creates.
const (
	// LabelGroupID marks a sandbox (and its containers) with the group's ID.
	LabelGroupID = "vnode.io/group-id"
	// Namespace is the CRI metadata namespace of every sandbox.
	Namespace = "vnode"
)

// Back-off of restarted containers, as the kubelet's.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// Options configure a Runtime.
type Options struct {
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient
	// Dir holds one directory per group: spec, logs, volumes; and shares/
	// for file-share volumes.
	Dir string
	// StopTimeout is how long a container may take to stop after SIGTERM
	// before SIGKILL (default 30 s).
	StopTimeout time.Duration
	// PollInterval is how often container states are read (default 250 ms).
	PollInterval time.Duration
	// Parallel bounds the sandboxes being created or torn down at once
	// (default 4 per CPU). containerd shares its CPU among all of them, so
	// without a bound a burst of groups would all become ready only at
	// its end; with one they come up in a steady stream.
	Parallel int
	// LogMaxSize is the size at which a running container's log file is
	// rotated (default 10 MiB); LogMaxFiles how many files a container's
	// log keeps, the current one included (default 5, at least 2). These
	// are the kubelet's containerLogMaxSize and containerLogMaxFiles.
	LogMaxSize  int64
	LogMaxFiles int
	// LogCheckInterval is how often the logs' sizes are checked (default
	// 10 s, the kubelet's containerLogMonitorInterval).
	LogCheckInterval time.Duration
	Clock            clock.WithTicker
	// Logger receives the runtime's logs; nothing is logged when nil.
	Logger *slog.Logger
	// Sealer seals the group specs kept in Dir (required): they carry
	// secure environment values, registry passwords and secret files.
	Sealer *sealer.Sealer
}

// Defaults of Options.
const (
	defaultStopTimeout      = 30 * time.Second
	defaultPollInterval     = 250 * time.Millisecond
	defaultLogMaxSize       = 10 << 20
	defaultLogMaxFiles      = 5
	defaultLogCheckInterval = 10 * time.Second
)

// complete fills the defaults and checks what cannot be defaulted.
func (o *Options) complete() error {
	if o.StopTimeout <= 0 {
		o.StopTimeout = defaultStopTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.Parallel <= 0 {
		o.Parallel = 4 * goruntime.NumCPU()
	}
	if o.LogMaxSize == 0 {
		o.LogMaxSize = defaultLogMaxSize
	}
	if o.LogMaxFiles == 0 {
		o.LogMaxFiles = defaultLogMaxFiles
	}
	if o.LogCheckInterval <= 0 {
		o.LogCheckInterval = defaultLogCheckInterval
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.logPolicy().Check(); err != nil {
		return fmt.Errorf("container logs: %w", err)
	}
	return nil
}

func (o *Options) logPolicy() crilog.Policy {
	return crilog.Policy{MaxSize: o.LogMaxSize, MaxFiles: o.LogMaxFiles}
}

// Runtime implements runtime.Runtime on CRI.
type Runtime struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// slots bounds concurrent sandbox work (Options.Parallel).
	slots chan struct{}
	// private are the images pulled with credentials.
	private *privateImages
	// files serializes what changes the groups' files that UpdateVolumes
	// changes too: spec files, secret volumes, and the removal of a group's
	// directory. Taken before mu, never while holding it.
	files sync.Mutex

	mu       sync.Mutex
	groups   map[string]*group
	watchers map[*watcher]struct{}
	gen      uint64
	// cpu holds each container's previous CPU sample, to derive the
	// current use when CRI does not report it.
	cpu map[string]cpuSample
}

// cpuSample is a container's cumulative CPU time at one moment.
type cpuSample struct {
	at        time.Time
	coreNanos uint64
}

var _ runtime.Runtime = (*Runtime)(nil)

// group is what the runtime knows of one container group.
type group struct {
	spec      runtime.GroupSpec
	sandboxID string
	ip        string
	stopped   bool
	inits     []*container
	mains     []*container
	pending   []runtime.Event
	dirty     bool
	gen       uint64
	// busy is set while Restart, Stop or Remove works on the group: the
	// poll loop leaves it alone meanwhile.
	busy bool
	// initsDone counts the init containers that have succeeded, in order;
	// the containers start once it reaches len(inits).
	initsDone int
	// starting is set while the poll loop starts the group's next
	// containers (advance); nextAdvance is when a failed start is retried.
	starting    bool
	nextAdvance time.Time
}

// container follows one container of a group across its restarts.
type container struct {
	spec     runtime.ContainerSpec
	init     bool
	id       string // current CRI container, "" before the first create
	attempt  uint32
	status   runtime.ContainerStatus
	restarts int32
	// backoff is the wait before the next restart; nextStart when it is due.
	backoff   time.Duration
	nextStart time.Time
	probes    probeState
	// probeCounts counts the probes' results by type and result, across
	// restarts (see runtime.ProbeCount).
	probeCounts map[probeKey]uint64
	// message is the termination message of the exited CRI container
	// messageOf (see containerStatus).
	messageOf, message string
	// configBackoff is the wait before the next try of a container whose
	// configuration is wanting (see configWait); configRetry when it is due.
	configBackoff time.Duration
	configRetry   time.Time
	// inPostStart is set while the postStart hook of the current attempt
	// runs, which started at startedAt: the container counts as created,
	// not started, and the poll loop leaves it alone; cancelHook ends the
	// hook.
	inPostStart bool
	startedAt   time.Time
	cancelHook  context.CancelFunc
	// killing is set while the runtime kills the container for a failed
	// hook or liveness probe: the poll loop leaves it alone meanwhile (a
	// container whose postStart hook failed is never reported running).
	killing bool
}

// New returns a runtime and re-attaches to the groups CRI still has.
func New(ctx context.Context, o Options) (*Runtime, error) {
	if err := o.complete(); err != nil {
		return nil, err
	}
	if o.Sealer == nil {
		return nil, errors.New("the CRI runtime needs a sealer for the specs it keeps")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create runtime directory: %w", err)
	}
	r := &Runtime{o: o, groups: map[string]*group{}, watchers: map[*watcher]struct{}{}, slots: make(chan struct{}, o.Parallel)}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	var err error
	if r.private, err = loadPrivateImages(o.Dir); err != nil {
		return nil, err
	}
	if err := r.discover(ctx); err != nil {
		return nil, err
	}
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.every(r.o.PollInterval, r.pollOnce) }()
	go func() { defer r.wg.Done(); r.every(r.o.LogCheckInterval, r.rotateLogs) }()
	return r, nil
}

// Close stops following the groups; they keep running in CRI.
func (r *Runtime) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}

func (r *Runtime) groupDir(id string) string { return filepath.Join(r.o.Dir, "groups", id) }

// specPath is where a group's spec is kept, sealed: it carries secure
// environment values, registry passwords and secret volume files.
func (r *Runtime) specPath(id string) string { return filepath.Join(r.groupDir(id), "spec.sealed") }

// plainSpecPath is where earlier versions kept the spec unsealed; such a
// spec is read once and sealed on the group's next save.
func (r *Runtime) plainSpecPath(id string) string { return filepath.Join(r.groupDir(id), "spec.json") }

// specName binds a sealed spec to its group, so one group's file cannot
// stand in for another's.
func specName(id string) string { return "runtime-group-spec/" + id }

// saveSpec writes the group's spec sealed, readable by root only.
func (r *Runtime) saveSpec(spec runtime.GroupSpec) error {
	if err := os.MkdirAll(r.groupDir(spec.ID), 0o700); err != nil {
		return fmt.Errorf("create group directory: %w", err)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode spec of %s: %w", spec.ID, err)
	}
	sealed, err := r.o.Sealer.Seal(specName(spec.ID), data)
	if err != nil {
		return fmt.Errorf("seal spec of %s: %w", spec.ID, err)
	}
	tmp := r.specPath(spec.ID) + ".tmp"
	if err := os.WriteFile(tmp, sealed, 0o600); err != nil {
		return fmt.Errorf("save spec of %s: %w", spec.ID, err)
	}
	if err := os.Rename(tmp, r.specPath(spec.ID)); err != nil {
		return fmt.Errorf("save spec of %s: %w", spec.ID, err)
	}
	if err := os.Remove(r.plainSpecPath(spec.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the unsealed spec of %s: %w", spec.ID, err)
	}
	return nil
}

// readSpec reads a group's saved spec; fs.ErrNotExist when it has none.
func (r *Runtime) readSpec(id string) (runtime.GroupSpec, error) {
	var spec runtime.GroupSpec
	data, err := os.ReadFile(r.specPath(id))
	switch {
	case err == nil:
		if data, err = r.o.Sealer.Open(specName(id), data); err != nil {
			return spec, fmt.Errorf("spec of %s: %w", id, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		if data, err = os.ReadFile(r.plainSpecPath(id)); err != nil {
			return spec, fmt.Errorf("spec of %s: %w", id, err)
		}
	default:
		return spec, fmt.Errorf("spec of %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return spec, fmt.Errorf("read spec of %s: %w", id, err)
	}
	return spec, nil
}

// specOf returns the group's spec. Callers do not hold r.mu.
func (r *Runtime) specOf(g *group) runtime.GroupSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return g.spec
}

// discover rebuilds the groups from the sandboxes CRI has and their specs.
func (r *Runtime) discover(ctx context.Context) error {
	resp, err := r.o.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{}}})
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	for _, sb := range resp.Items {
		id := sb.Labels[LabelGroupID]
		if id == "" {
			continue
		}
		spec, err := r.readSpec(id)
		if errors.Is(err, fs.ErrNotExist) {
			r.o.Logger.Warn("a sandbox of an unknown group: removing it", "group", id, "sandbox", sb.Id, "err", err)
			_, _ = r.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id})
			_, _ = r.o.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id})
			continue
		}
		if err != nil {
			return err
		}
		g := newGroup(spec)
		g.sandboxID = sb.Id
		g.stopped = sb.State != runtimeapi.PodSandboxState_SANDBOX_READY
		if err := r.attachContainers(ctx, g); err != nil {
			return err
		}
		if !g.stopped {
			if err := r.ensureHosts(spec, g.ip); err != nil {
				return err
			}
		}
		r.groups[id] = g
	}
	return nil
}

// attachContainers finds each container's latest CRI container.
func (r *Runtime) attachContainers(ctx context.Context, g *group) error {
	resp, err := r.o.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{PodSandboxId: g.sandboxID}})
	if err != nil {
		return fmt.Errorf("list containers of %s: %w", g.spec.ID, err)
	}
	items := resp.Containers
	sort.Slice(items, func(i, j int) bool { return items[i].Metadata.Attempt < items[j].Metadata.Attempt })
	for _, it := range items {
		if c := g.container(it.Metadata.Name); c != nil {
			c.id, c.attempt = it.Id, it.Metadata.Attempt
			c.restarts = int32(it.Metadata.Attempt)
			c.status.RestartCount = c.restarts
		}
	}
	// Report the containers' states now, not after the first poll.
	for _, c := range g.all() {
		if c.id == "" {
			continue
		}
		st, err := r.containerStatus(ctx, g, c, c.id)
		if err != nil {
			return fmt.Errorf("status of container %s of %s: %w", c.spec.Name, g.spec.ID, err)
		}
		r.applyCRIStatus(g, c, st)
	}
	g.countInits()
	if st, err := r.sandboxIP(ctx, g.sandboxID); err == nil {
		g.ip = st
	}
	if !g.stopped {
		retryUncreated(g, r.o.Clock.Now())
	}
	return nil
}

func newGroup(spec runtime.GroupSpec) *group {
	g := &group{spec: spec}
	for _, c := range spec.InitContainers {
		g.inits = append(g.inits, &container{spec: c, init: true, status: waiting(c.Name, backend.ReasonPodInitializing)})
	}
	// The containers wait as PodInitializing until the init containers
	// have succeeded, as on a kubelet.
	reason := backend.ReasonContainerCreating
	if len(spec.InitContainers) > 0 {
		reason = backend.ReasonPodInitializing
	}
	for _, c := range spec.Containers {
		g.mains = append(g.mains, &container{spec: c, status: waiting(c.Name, reason)})
	}
	return g
}

// countInits sets initsDone from the containers' states, for a group
// found in CRI: the init containers that succeeded in order, or all of
// them once a container was started.
func (g *group) countInits() {
	g.initsDone = 0
	for _, c := range g.inits {
		if c.status.Current.State != runtime.StateTerminated || c.status.Current.ExitCode != 0 {
			break
		}
		g.initsDone++
	}
	for _, c := range g.mains {
		if c.id != "" {
			g.initsDone = len(g.inits)
		}
	}
}

func waiting(name, reason string) runtime.ContainerStatus {
	return runtime.ContainerStatus{Name: name, Current: runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: reason}}
}

func (g *group) container(name string) *container {
	for _, c := range g.all() {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

func (g *group) all() []*container {
	return append(append([]*container{}, g.inits...), g.mains...)
}

// event records an event to publish. Callers hold r.mu.
func (g *group) event(r *Runtime, ctr, name, typ, format string, args ...any) {
	g.pending = append(g.pending, runtime.Event{Container: ctr, Name: name, Type: typ,
		Message: fmt.Sprintf(format, args...), Time: r.o.Clock.Now()})
	g.dirty = true
}

// snapshot returns the group's status at now. Callers hold r.mu.
func (g *group) snapshot(now time.Time) runtime.GroupStatus {
	st := runtime.GroupStatus{ID: g.spec.ID, Generation: g.gen, IP: g.ip, Stopped: g.stopped}
	for _, c := range g.inits {
		st.InitContainers = append(st.InitContainers, c.shown(now, g.stopped))
	}
	for _, c := range g.mains {
		st.Containers = append(st.Containers, c.shown(now, g.stopped))
	}
	return st
}

// shown is the container's status at now as the kubelet shows it: one
// that exited and waits out its restart back-off (in a group that is not
// stopped) is waiting with CrashLoopBackOff, its exit the previous state.
func (c *container) shown(now time.Time, stopped bool) runtime.ContainerStatus {
	s := copyStatus(c.status)
	if !stopped && s.Current.State == runtime.StateTerminated && c.backoff > 0 && now.Before(c.nextStart) {
		exited := s.Current
		s.Previous = &exited
		s.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s", c.backoff, c.spec.Name)}
	}
	return s
}

func copyStatus(s runtime.ContainerStatus) runtime.ContainerStatus {
	if s.Previous != nil {
		p := *s.Previous
		s.Previous = &p
	}
	return s
}

// lookup returns a group or ErrNotFound. Callers hold r.mu.
func (r *Runtime) lookup(id string) (*group, error) {
	g := r.groups[id]
	if g == nil {
		return nil, fmt.Errorf("group %s: %w", id, runtime.ErrNotFound)
	}
	return g, nil
}

// Status returns a group's status.
func (r *Runtime) Status(_ context.Context, id string) (runtime.GroupStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return runtime.GroupStatus{}, err
	}
	return g.snapshot(r.o.Clock.Now()), nil
}

// List returns every group's status.
func (r *Runtime) List(context.Context) ([]runtime.GroupStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.GroupStatus, 0, len(r.groups))
	for _, g := range r.groups {
		out = append(out, g.snapshot(r.o.Clock.Now()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

var errStopped = errors.New("the group is stopped")

// slot waits for a free slot of sandbox work and returns its release.
func (r *Runtime) slot(ctx context.Context) (func(), error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
