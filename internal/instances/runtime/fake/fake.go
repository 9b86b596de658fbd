// Package fake is an in-process, deterministic simulation of a container
// runtime. It implements runtime.Runtime without running anything, for fast
// tests of the container instances service and as the service's runtime
// until a real one exists.
//
// Every delay (image pulls, container starts, sleeping commands, restart
// back-off) runs on the Options' clock, so tests with a fake clock decide
// when time passes. With zero delays, Run sets a group's containers running
// before it returns.
//
// Images and commands follow conventions that let tests script a group:
//
//   - an image whose reference contains "inaccessible" cannot be pulled;
//   - the command ["exit", "N"] terminates with exit code N as soon as it
//     has started, ["sleep", "D"] terminates with 0 after D (a Go duration
//     or a number of seconds; "infinity" never), ["echo", words...] writes
//     the words to the log and keeps running; any other command, or none,
//     runs until stopped. ["sh", "-c", "..."] runs the command in the string.
//     ["echo", words..., ">", path] writes the words, with a newline unless
//     the first is -n, to the container's termination message file when
//     path is its TerminationMessagePath (and nowhere else).
//     Images have no entrypoint or arguments of their own: a container runs
//     its command followed by its args (args alone when it has no command).
//
// A container that terminates reports its termination message as the
// kubelet computes it (runtime.TerminationMessage) from what it wrote to
// that file and from its log.
//
// Exec understands echo, exit, cat, env, sleep, sh -c and an interactive sh
// (one command per line of standard input). Variables filled from the group
// (runtime.EnvVar.FromField) get the group's simulated IP; Volumes shows a
// group's volumes with the files of UpdateVolumes.
package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("fake runtime: closed")

// Options configure a Runtime. The zero value is usable.
type Options struct {
	// Clock drives every delay; nil means the real clock.
	Clock clock.WithTicker
	// PullDelay is how long pulling an image that is not cached takes.
	PullDelay time.Duration
	// StartDelay is how long a created container takes to start.
	StartDelay time.Duration
	// Subnet is the first three octets of the group IPs and a dot, such as
	// "10.241.0." (the default). Groups get .2 to .254 of that /24, then of
	// the following ones.
	Subnet string
	// CachedImages are present locally: they are not pulled.
	CachedImages []string
	// RunDelay makes Run block this long on the clock before it acts, like
	// a runtime that pulls images before returning; ctx ends the wait.
	RunDelay time.Duration
}

const (
	defaultSubnet = "10.241.0."
	// maxLogLines is how many lines a container's log keeps.
	maxLogLines = 10000
	// Kubelet's restart back-off: the first restart is immediate, then
	// 10 s doubling up to 5 min; a container that ran 10 min starts over.
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
	// workingSetBytes is every running container's reported memory use;
	// pageCacheBytes the page cache beside it.
	workingSetBytes = 32 << 20
	pageCacheBytes  = 4 << 20
	// rxPerSecond and txPerSecond are a group's reported traffic for each
	// second of its oldest running container.
	rxPerSecond = 2 << 10
	txPerSecond = 1 << 10
)

// Runtime is the fake runtime. It is safe for concurrent use.
type Runtime struct {
	clock  clock.WithTicker
	opts   Options
	cached map[string]bool
	// wg counts the timer and watcher goroutines, for Close.
	wg sync.WaitGroup

	// mu guards everything below, and every group and container.
	mu       sync.Mutex
	groups   map[string]*group
	ips      *ipPool
	watchers map[*watcher]struct{}
	runs     int
	// volumeUpdates counts successful UpdateVolumes calls.
	volumeUpdates int
	failRun       error
	closed        bool
	// gen numbers published changes (runtime.GroupStatus.Generation).
	gen uint64
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a fake runtime. It panics if opts.Subnet is not three IPv4
// octets followed by a dot.
func New(opts Options) *Runtime {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Subnet == "" {
		opts.Subnet = defaultSubnet
	}
	ips, err := newIPPool(opts.Subnet)
	if err != nil {
		panic(err)
	}
	opts.CachedImages = slices.Clone(opts.CachedImages)
	cached := make(map[string]bool, len(opts.CachedImages))
	for _, img := range opts.CachedImages {
		cached[img] = true
	}
	return &Runtime{
		clock:    opts.Clock,
		opts:     opts,
		cached:   cached,
		groups:   make(map[string]*group),
		ips:      ips,
		watchers: make(map[*watcher]struct{}),
	}
}

// Run creates and starts a group, or starts a stopped one afresh (restart
// counts back to zero, each container's last state kept as its previous
// state). It is a no-op for a group that exists and is not stopped. A
// failing Run leaves the runtime as it was.
func (r *Runtime) Run(ctx context.Context, spec runtime.GroupSpec) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: run group %q: %w", spec.ID, err)
	}
	if d := r.opts.RunDelay; d > 0 {
		t := r.clock.NewTimer(d)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fake: run group %q: %w", spec.ID, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if r.failRun != nil {
		return r.failRun
	}
	old := r.groups[spec.ID]
	if old != nil && !old.stopped {
		return nil
	}
	if err := validate(spec); err != nil {
		return err
	}
	ip, err := r.ips.allocate()
	if err != nil {
		return err
	}
	g := newGroup(spec, ip, old)
	r.groups[g.id] = g
	r.runs++
	r.advance(g)
	r.publish(g)
	return nil
}

// Stop stops every container of a group and releases its IP. Stopping a
// stopped group is a no-op.
func (r *Runtime) Stop(ctx context.Context, id string, _ time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: stop group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return err
	}
	if g.stopped {
		return nil
	}
	for _, c := range g.seq {
		r.kill(g, c, detailStopped)
	}
	g.stopped = true
	r.ips.release(g.ip)
	g.ip = ""
	r.publish(g)
	return nil
}

// Restart restarts, in place, every main container that has started since
// the group last ran. It fails for a stopped group.
func (r *Runtime) Restart(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: restart group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return err
	}
	if g.stopped {
		return fmt.Errorf("fake: restart group %q: the group is stopped", id)
	}
	r.restartGroup(g)
	r.publish(g)
	return nil
}

// Remove forgets a group, stopping its containers and releasing its IP.
// Watchers get a last update with Removed set.
func (r *Runtime) Remove(ctx context.Context, id string, _ time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: remove group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	g := r.groups[id]
	if g == nil {
		return nil
	}
	for _, c := range g.seq {
		r.kill(g, c, detailStopped)
	}
	r.ips.release(g.ip)
	g.ip = ""
	g.removed = true
	g.dirty = true
	delete(r.groups, id)
	r.publish(g)
	return nil
}

// Status returns a copy of a group's status.
func (r *Runtime) Status(ctx context.Context, id string) (runtime.GroupStatus, error) {
	if err := ctx.Err(); err != nil {
		return runtime.GroupStatus{}, fmt.Errorf("fake: status of group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return runtime.GroupStatus{}, err
	}
	return g.snapshot(), nil
}

// List returns a copy of every group's status, ordered by ID.
func (r *Runtime) List(ctx context.Context) ([]runtime.GroupStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: list groups: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	out := make([]runtime.GroupStatus, 0, len(r.groups))
	for _, id := range slices.Sorted(maps.Keys(r.groups)) {
		out = append(out, r.groups[id].snapshot())
	}
	return out, nil
}

// Logs writes a container's log lines (the last opts.Tail when positive)
// to w, each prefixed with its RFC 3339 time when opts.Timestamps is set.
func (r *Runtime) Logs(ctx context.Context, id, container string, opts runtime.LogOptions, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: logs of %s/%s: %w", id, container, err)
	}
	r.mu.Lock()
	_, c, err := r.lookupContainer(id, container)
	var lines []logLine
	var proc chan struct{}
	seen := 0
	if err == nil {
		if opts.Previous && c.status.RestartCount == 0 {
			err = fmt.Errorf("fake: logs of %s/%s: %w", id, container, runtime.ErrNoPreviousLog)
		}
		lines, proc, seen = c.tail(opts.Tail, opts.Since, opts.Previous), c.proc, len(c.logs)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if opts.Previous {
		proc = nil // a previous run has ended: nothing to follow
	}
	if _, err := io.WriteString(w, formatLog(lines, opts.Timestamps)); err != nil {
		return fmt.Errorf("fake: write logs of %s/%s: %w", id, container, err)
	}
	if !opts.Follow || proc == nil {
		return nil
	}
	// Following ends with the process; the fake writes no lines while it runs.
	select {
	case <-ctx.Done():
		return nil
	case <-proc:
	}
	r.mu.Lock()
	if len(c.logs) > seen {
		lines = slices.Clone(c.logs[seen:])
	} else {
		lines = nil
	}
	r.mu.Unlock()
	if _, err := io.WriteString(w, formatLog(lines, opts.Timestamps)); err != nil {
		return fmt.Errorf("fake: write logs of %s/%s: %w", id, container, err)
	}
	return nil
}

// formatLog renders log lines, one per line.
func formatLog(lines []logLine, timestamps bool) string {
	var b strings.Builder
	for _, l := range lines {
		if timestamps {
			b.WriteString(l.time.UTC().Format(time.RFC3339Nano))
			b.WriteByte(' ')
		}
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Stats reports every running container of a group: a tenth of its CPU
// request in use and 32 MiB of memory (and 4 MiB of page cache); and the
// group's traffic, 2 KiB received and 1 KiB sent for each second it ran.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.GroupStats, error) {
	if err := ctx.Err(); err != nil {
		return runtime.GroupStats{}, fmt.Errorf("fake: stats of group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return runtime.GroupStats{}, err
	}
	now := r.clock.Now()
	stats := runtime.GroupStats{Time: now}
	var up time.Duration
	for _, c := range g.seq {
		if c.status.Current.State == runtime.StateRunning {
			stats.Containers = append(stats.Containers, c.stats(now))
			up = max(up, now.Sub(c.status.Current.StartTime))
		}
	}
	if len(stats.Containers) > 0 {
		secs := uint64(up/time.Second) + 1
		stats.Network = &runtime.NetworkStats{Interface: "eth0", RxBytes: secs * rxPerSecond, TxBytes: secs * txPerSecond}
	}
	return stats, nil
}

// stats returns a running container's usage at now.
func (c *container) stats(now time.Time) runtime.ContainerStats {
	nanoCores := math.Round(c.spec.CPU * 1e8)
	elapsed := now.Sub(c.status.Current.StartTime).Seconds()
	return runtime.ContainerStats{
		Name:                    c.spec.Name,
		CPUUsageNanoCores:       uint64(nanoCores),
		CPUUsageCoreNanoSeconds: uint64(math.Round(nanoCores * max(elapsed, 0))),
		MemoryWorkingSetBytes:   workingSetBytes,
		MemoryUsageBytes:        workingSetBytes + pageCacheBytes,
		MemoryRSSBytes:          workingSetBytes / 2,
	}
}

// CachedImages returns Options.CachedImages.
func (r *Runtime) CachedImages(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fake: cached images: %w", err)
	}
	return slices.Clone(r.opts.CachedImages), nil
}

// Close stops every timer and watcher and waits for their goroutines; it
// must not be called from a Watch callback. Later calls do nothing.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for _, g := range r.groups {
		for _, c := range g.seq {
			c.cancelTimer()
			c.endProcess()
		}
	}
	watchers := slices.Collect(maps.Keys(r.watchers))
	clear(r.watchers)
	r.mu.Unlock()
	for _, w := range watchers {
		close(w.stop)
	}
	r.wg.Wait()
	return nil
}

// ExitContainer makes a running container's process terminate now with
// code; the group's restart policy then applies.
func (r *Runtime) ExitContainer(id, container string, code int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, c, err := r.runningContainer(id, container)
	if err != nil {
		return err
	}
	r.exit(g, c, code)
	r.publish(g)
	return nil
}

// Runs returns how many Run calls created or started a group.
func (r *Runtime) Runs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs
}

// SetFailRun makes every later Run return err, until called with nil.
func (r *Runtime) SetFailRun(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failRun = err
}

// lookup returns a group, or an error wrapping runtime.ErrNotFound.
func (r *Runtime) lookup(id string) (*group, error) {
	if r.closed {
		return nil, ErrClosed
	}
	g := r.groups[id]
	if g == nil {
		return nil, fmt.Errorf("fake: group %q: %w", id, runtime.ErrNotFound)
	}
	return g, nil
}

// lookupContainer returns a group and one of its containers, init or main.
func (r *Runtime) lookupContainer(id, name string) (*group, *container, error) {
	g, err := r.lookup(id)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range g.seq {
		if c.spec.Name == name {
			return g, c, nil
		}
	}
	return nil, nil, fmt.Errorf("fake: container %q in group %q: %w", name, id, runtime.ErrNotFound)
}

// runningContainer is lookupContainer for a container that must be running.
func (r *Runtime) runningContainer(id, name string) (*group, *container, error) {
	g, c, err := r.lookupContainer(id, name)
	if err != nil {
		return nil, nil, err
	}
	if c.proc == nil {
		return nil, nil, fmt.Errorf("fake: container %s is not running", name)
	}
	return g, c, nil
}

// validate rejects a spec the runtime cannot run, and images it cannot pull.
func validate(spec runtime.GroupSpec) error {
	if spec.ID == "" {
		return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: "the group has no id"}
	}
	if len(spec.Containers) == 0 {
		return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("group %q has no containers", spec.ID)}
	}
	all := slices.Concat(spec.InitContainers, spec.Containers)
	seen := make(map[string]bool, len(all))
	for _, c := range all {
		switch {
		case c.Name == "" || c.Image == "":
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("a container of group %q has no name or no image", spec.ID)}
		case seen[c.Name]:
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("group %q has two containers named %q", spec.ID, c.Name)}
		}
		seen[c.Name] = true
	}
	for _, c := range all {
		if strings.Contains(c.Image, "inaccessible") {
			return &runtime.Error{Reason: runtime.ReasonImagePull,
				Message: fmt.Sprintf("failed to pull image %q: access denied or not found", c.Image)}
		}
	}
	return nil
}
