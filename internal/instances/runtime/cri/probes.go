package cri

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// probeState follows one container's startup, liveness and readiness
// probes.
type probeState struct {
	running       bool // a probe round is in flight
	liveFailures  int32
	readyOK       int32
	readyFailed   int32
	startFailures int32
	nextLive      time.Time
	nextReady     time.Time
	nextStartup   time.Time
}

// dueSet says which probes of a container a round runs.
type dueSet struct {
	live, ready, startup bool
}

func (d dueSet) any() bool { return d.live || d.ready || d.startup }

// setVerdicts sets a container's started and ready verdicts for a new
// state: a running container without a startup probe has started, and
// without a readiness probe is ready once started; the probes decide
// otherwise.
func (c *container) setVerdicts(running bool) {
	c.status.Started = running && !c.init && c.spec.StartupProbe == nil
	c.status.Ready = c.status.Started && c.spec.ReadinessProbe == nil
}

// Defaults of ACI (and the kubelet) for unset probe fields.
func probeDefaults(p *runtime.Probe) (period, timeout time.Duration, failures, successes int32) {
	period, timeout, failures, successes = 10*time.Second, time.Second, 3, 1
	if p.PeriodSeconds > 0 {
		period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.FailureThreshold > 0 {
		failures = p.FailureThreshold
	}
	if p.SuccessThreshold > 0 {
		successes = p.SuccessThreshold
	}
	return period, timeout, failures, successes
}

// dueProbes returns which probes of a running container are due now and
// marks a round in flight. Until a startup probe has succeeded it is the
// only one that runs, as on a kubelet. Callers hold r.mu.
func (r *Runtime) dueProbes(c *container, now time.Time) dueSet {
	if c.init || c.status.Current.State != runtime.StateRunning || c.probes.running || c.killing {
		return dueSet{}
	}
	started := c.status.Current.StartTime
	due := func(p *runtime.Probe, next time.Time) bool {
		if p == nil {
			return false
		}
		if next.IsZero() {
			next = started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
		}
		return !now.Before(next)
	}
	var d dueSet
	if c.spec.StartupProbe != nil && !c.status.Started {
		d.startup = due(c.spec.StartupProbe, c.probes.nextStartup)
	} else {
		d.live = due(c.spec.LivenessProbe, c.probes.nextLive)
		d.ready = due(c.spec.ReadinessProbe, c.probes.nextReady)
	}
	c.probes.running = d.any()
	return d
}

// probeContainer runs the due probes of one container and applies the
// verdicts: a startup success lets the other probes run, readiness flips
// Ready, and a startup or liveness failure past its threshold kills the
// container (its restart policy then applies).
func (r *Runtime) probeContainer(ctx context.Context, g *group, c *container, d dueSet) {
	r.mu.Lock()
	cid, ip := c.id, g.ip
	r.mu.Unlock()
	var liveErr, readyErr, startErr error
	if d.startup {
		startErr = r.runProbe(ctx, cid, ip, c.spec.StartupProbe)
	}
	if d.live {
		liveErr = r.runProbe(ctx, cid, ip, c.spec.LivenessProbe)
	}
	if d.ready {
		readyErr = r.runProbe(ctx, cid, ip, c.spec.ReadinessProbe)
	}
	r.mu.Lock()
	now := r.o.Clock.Now()
	c.probes.running = false
	if c.id != cid { // restarted meanwhile: the verdicts are stale
		r.mu.Unlock()
		return
	}
	kill := false
	if d.startup {
		kill = r.applyStartup(g, c, startErr, now)
	}
	if d.live {
		kill = r.applyLiveness(g, c, liveErr, now) || kill
	}
	if d.ready {
		r.applyReadiness(g, c, readyErr, now)
	}
	c.countProbe(d.startup, runtime.ProbeStartup, startErr)
	c.countProbe(d.live, runtime.ProbeLiveness, liveErr)
	c.countProbe(d.ready, runtime.ProbeReadiness, readyErr)
	if kill {
		c.killing = true
	}
	r.publish(g, false)
	r.mu.Unlock()
	if kill {
		r.killContainer(ctx, g, c, cid, r.graceFor(g, 0))
		r.mu.Lock()
		c.killing = false
		r.mu.Unlock()
	}
}

// probeKey is a probe type and a result.
type probeKey struct{ probe, result string }

// countProbe counts a probe's result when it ran. Callers hold r.mu.
func (c *container) countProbe(ran bool, probe string, err error) {
	if !ran {
		return
	}
	key := probeKey{probe: probe, result: runtime.ProbeSuccessful}
	if err != nil {
		key.result = runtime.ProbeFailed
	}
	if c.probeCounts == nil {
		c.probeCounts = map[probeKey]uint64{}
	}
	c.probeCounts[key]++
}

// probeResults returns the probes' counts in a stable order. Callers
// hold r.mu.
func (c *container) probeResults() []runtime.ProbeCount {
	out := make([]runtime.ProbeCount, 0, len(c.probeCounts))
	for k, n := range c.probeCounts {
		out = append(out, runtime.ProbeCount{Probe: k.probe, Result: k.result, Count: n})
	}
	slices.SortFunc(out, func(a, b runtime.ProbeCount) int {
		return cmp.Or(strings.Compare(a.Probe, b.Probe), strings.Compare(a.Result, b.Result))
	})
	return out
}

// applyStartup applies a startup probe's verdict and reports whether the
// container is to be killed. Callers hold r.mu.
func (r *Runtime) applyStartup(g *group, c *container, err error, now time.Time) bool {
	period, _, failures, _ := probeDefaults(c.spec.StartupProbe)
	c.probes.nextStartup = now.Add(period)
	if err == nil {
		c.probes.startFailures = 0
		c.status.Started = true
		c.status.Ready = c.spec.ReadinessProbe == nil
		g.dirty = true
		return false
	}
	c.probes.startFailures++
	g.event(r, c.spec.Name, backend.EventUnhealthy, "Warning", "Startup probe failed: %v", err)
	if c.probes.startFailures < failures {
		return false
	}
	c.probes.startFailures = 0
	g.event(r, c.spec.Name, backend.EventKilling, "Normal", "Container %s failed startup probe, will be restarted", c.spec.Name)
	return true
}

// applyLiveness applies a liveness probe's verdict and reports whether the
// container is to be killed. Callers hold r.mu.
func (r *Runtime) applyLiveness(g *group, c *container, err error, now time.Time) bool {
	period, _, failures, _ := probeDefaults(c.spec.LivenessProbe)
	c.probes.nextLive = now.Add(period)
	if err == nil {
		c.probes.liveFailures = 0
		return false
	}
	c.probes.liveFailures++
	g.event(r, c.spec.Name, backend.EventUnhealthy, "Warning", "Liveness probe failed: %v", err)
	if c.probes.liveFailures < failures {
		return false
	}
	c.probes.liveFailures = 0
	g.event(r, c.spec.Name, backend.EventKilling, "Normal", "Container %s failed liveness probe, will be restarted", c.spec.Name)
	return true
}

// applyReadiness applies a readiness probe's verdict. Callers hold r.mu.
func (r *Runtime) applyReadiness(g *group, c *container, err error, now time.Time) {
	period, _, failures, successes := probeDefaults(c.spec.ReadinessProbe)
	c.probes.nextReady = now.Add(period)
	if err != nil {
		c.probes.readyOK, c.probes.readyFailed = 0, c.probes.readyFailed+1
		g.event(r, c.spec.Name, backend.EventUnhealthy, "Warning", "Readiness probe failed: %v", err)
		if c.probes.readyFailed >= failures && c.status.Ready {
			c.status.Ready = false
			g.dirty = true
		}
		return
	}
	c.probes.readyFailed, c.probes.readyOK = 0, c.probes.readyOK+1
	if c.probes.readyOK >= successes && !c.status.Ready {
		c.status.Ready = true
		g.dirty = true
	}
}

// runProbe runs one probe; nil means success.
func (r *Runtime) runProbe(ctx context.Context, cid, ip string, p *runtime.Probe) error {
	_, timeout, _, _ := probeDefaults(p)
	switch {
	case len(p.Exec) > 0:
		resp, err := r.o.Runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: cid, Cmd: p.Exec,
			Timeout: int64((timeout + time.Second - 1) / time.Second)})
		if err != nil {
			return err
		}
		if resp.ExitCode != 0 {
			return fmt.Errorf("command %q exited with %d: %s", strings.Join(p.Exec, " "), resp.ExitCode,
				strings.TrimSpace(string(resp.Stdout)+string(resp.Stderr)))
		}
		return nil
	case p.HTTPGet != nil:
		return httpProbe(ctx, ip, p.HTTPGet, timeout)
	case p.TCPSocket != nil:
		return tcpProbe(ctx, ip, p.TCPSocket.Port, timeout)
	case p.GRPC != nil:
		return grpcProbe(ctx, ip, p.GRPC, timeout)
	}
	return nil
}

// tcpProbe succeeds when a TCP connection to the group's port opens, as
// the kubelet's tcpSocket probe does.
func tcpProbe(ctx context.Context, ip string, port int32, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	return conn.Close()
}

func httpProbe(ctx context.Context, ip string, h *runtime.HTTPGetProbe, timeout time.Duration) error {
	scheme := "http"
	if strings.EqualFold(h.Scheme, "HTTPS") {
		scheme = "https"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := scheme + "://" + net.JoinHostPort(ip, strconv.Itoa(int(h.Port))) + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	// Like the kubelet: no certificate checks, no keep-alive, no redirects followed.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // probes do not verify, as the kubelet's
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}
