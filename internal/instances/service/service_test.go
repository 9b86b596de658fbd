package service

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/wire"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// harness is a service on a fake clock, a fake runtime and a store in a
// temporary directory.
type harness struct {
	t    *testing.T
	ctx  context.Context
	cfg  config.Config
	clk  *clocktesting.FakeClock
	rt   *fake.Runtime
	tap  *tapRuntime
	st   *store.Store
	seal *sealer.Sealer
	s    *Service
	// sentinels counts the groups sync has run.
	sentinels int
}

// tapRuntime is the fake runtime with a watch that notes which groups'
// reports it has handed to the service.
type tapRuntime struct {
	*fake.Runtime
	mu     sync.Mutex
	handed map[string]bool
}

func (r *tapRuntime) Watch(ctx context.Context, notify func(runtime.Update)) {
	r.Runtime.Watch(ctx, func(u runtime.Update) {
		notify(u)
		r.mu.Lock()
		r.handed[u.Status.ID] = true
		r.mu.Unlock()
	})
}

func (r *tapRuntime) wasHanded(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handed[id]
}

// sync returns once the service has applied every report the runtime
// published before the call. It runs a sentinel group the service does not
// know, waits until the runtime has handed its report to the service and
// the service has taken it from its queue, and does that twice: the service
// applies what it took in one batch before it takes the next, and the
// runtime's watcher and the service's queue keep the reports' order.
func (h *harness) sync() {
	h.t.Helper()
	for range 2 {
		h.sentinels++
		id := fmt.Sprintf("sentinel-%d", h.sentinels)
		spec := runtime.GroupSpec{ID: id, Name: id, RestartPolicy: runtime.RestartAlways,
			Containers: []runtime.ContainerSpec{{Name: "c", Image: "sentinel"}}}
		if err := h.rt.Run(h.ctx, spec); err != nil {
			h.t.Fatalf("run a sentinel: %v", err)
		}
		waitFor(h.t, "the runtime to hand a report to the service", func() bool {
			if !h.tap.wasHanded(id) {
				return false
			}
			q := h.s.updates
			q.mu.Lock()
			defer q.mu.Unlock()
			return q.pending[id] == nil
		})
		if err := h.rt.Remove(h.ctx, id, 0); err != nil {
			h.t.Fatal(err)
		}
	}
}

func newHarness(t *testing.T, tweak func(*config.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Runtime = "fake"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = filepath.Join(dir, "tokens") // not read by the service
	if tweak != nil {
		tweak(&cfg)
	}
	if err := cfg.Complete(dir); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	seal, err := sealer.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(t0)
	rt := fake.New(fake.Options{Clock: clk})
	h := &harness{t: t, ctx: ctx, cfg: cfg, clk: clk, rt: rt, st: st, seal: seal,
		tap: &tapRuntime{Runtime: rt, handed: map[string]bool{}}}
	h.s = h.open()
	t.Cleanup(func() {
		h.s.Close()
		_ = rt.Close()
		_ = st.Close()
	})
	return h
}

// open starts a service on the harness's store, runtime and clock.
func (h *harness) open() *Service {
	h.t.Helper()
	return h.openOn(h.tap)
}

// openOn starts a service on the harness's store and clock and rt, which
// wraps the harness's runtime.
func (h *harness) openOn(rt runtime.Runtime) *Service {
	h.t.Helper()
	s := New(Options{Config: h.cfg, Store: h.st, Runtime: rt, Sealer: h.seal, Clock: h.clk,
		Logger: slog.New(slog.DiscardHandler), HeartbeatPeriod: time.Hour})
	if err := s.Open(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		goruntime.Gosched()
	}
}

// settled reports whether ref's operation, if any, has ended, judging by
// Get's provisioning state; a missing group is settled.
func (h *harness) settled(ref Ref) bool {
	g, err := h.s.Get(ref)
	if err != nil {
		return true
	}
	switch *g.Properties.ProvisioningState {
	case ProvisioningSucceeded, ProvisioningFailed:
		return true
	}
	return false
}

func (h *harness) waitSettled(ref Ref) {
	h.t.Helper()
	waitFor(h.t, "the operation on "+ref.Name+" to end", func() bool { return h.settled(ref) })
}

func (h *harness) waitGone(ref Ref) {
	h.t.Helper()
	waitFor(h.t, ref.Name+" to be deleted", func() bool {
		_, err := h.s.Get(ref)
		var ae *errdefs.Error
		return errors.As(err, &ae) && ae.Code == "ResourceNotFound"
	})
}

// unsynced describes a group whose status in the service differs from the
// runtime's, "" when there is none.
func (h *harness) unsynced() string {
	h.s.mu.Lock()
	type pair struct {
		key, uid string
		have     runtime.GroupStatus
	}
	var ps []pair
	for _, g := range h.s.groups {
		ps = append(ps, pair{g.key, g.uid, g.status})
	}
	h.s.mu.Unlock()
	for _, p := range ps {
		st, err := h.rt.Status(h.ctx, p.uid)
		if errors.Is(err, runtime.ErrNotFound) {
			continue
		}
		if err != nil {
			return err.Error()
		}
		if a, b := normStatus(p.have), normStatus(st); a != b {
			return fmt.Sprintf("group %s: service has %s, runtime %s", p.key, a, b)
		}
	}
	return ""
}

// normStatus makes statuses comparable after a JSON roundtrip and copies.
func normStatus(s runtime.GroupStatus) string {
	data, _ := json.Marshal(s)
	return string(data)
}

func (h *harness) state(ref Ref) string {
	g, err := h.s.Get(ref)
	if err != nil {
		return "absent"
	}
	return *g.Properties.InstanceView.State
}

func (h *harness) uid(ref Ref) string {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if g := h.s.groups[ref.key()]; g != nil {
		return g.uid
	}
	return ""
}

func groupBody(loc string, policy string, cpu, mem float64, env string) *aci.ContainerGroup {
	b := &aci.ContainerGroup{
		Location: to.Ptr(loc),
		Properties: &aci.ContainerGroupPropertiesProperties{
			OSType: to.Ptr(aci.OperatingSystemTypesLinux),
			Containers: []*aci.Container{{
				Name: to.Ptr("main"),
				Properties: &aci.ContainerProperties{
					Image: to.Ptr("busybox"),
					Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{
						CPU: to.Ptr(cpu), MemoryInGB: to.Ptr(mem)}},
					EnvironmentVariables: []*aci.EnvironmentVariable{{Name: to.Ptr("MODE"), Value: to.Ptr(env)}},
				},
			}},
		},
	}
	if policy != "" {
		b.Properties.RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicy(policy))
	}
	return b
}

func (h *harness) mustPut(ref Ref, body *aci.ContainerGroup) *PutResult {
	h.t.Helper()
	res, err := h.s.CreateOrUpdate(h.ctx, ref, body, wire.GroupExtensions{})
	if err != nil {
		h.t.Fatalf("CreateOrUpdate(%s): %v", ref.Name, err)
	}
	h.waitSettled(ref)
	return res
}

// ---------------------------------------------------------------------------
// (a) groupState

func TestGroupState(t *testing.T) {
	running := runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateRunning}}
	waiting := runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateWaiting}}
	exit := func(code int32) runtime.ContainerStatus {
		return runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateTerminated, ExitCode: code}}
	}
	cs := func(c ...runtime.ContainerStatus) []runtime.ContainerStatus { return c }
	cases := []struct {
		name         string
		provisioning string
		stopped      bool
		policy       string // "" for none (Always)
		containers   []runtime.ContainerStatus
		want         string
	}{
		{"stopped wins over everything", ProvisioningSucceeded, true, "", cs(running), StateStopped},
		{"stopped while failed", ProvisioningFailed, true, "", nil, StateStopped},
		{"provisioning failed", ProvisioningFailed, false, "", cs(running), StateFailed},
		{"pending", ProvisioningPending, false, "", cs(running), StatePending},
		{"creating", ProvisioningCreating, false, "", cs(running), StatePending},
		{"updating", ProvisioningUpdating, false, "", cs(running), StatePending},
		{"no containers reported", ProvisioningSucceeded, false, "", nil, StatePending},
		{"all waiting", ProvisioningSucceeded, false, "", cs(waiting, waiting), StatePending},
		{"running", ProvisioningSucceeded, false, "", cs(running), StateRunning},
		{"one running one waiting", ProvisioningSucceeded, false, "", cs(running, waiting), StateRunning},
		{"deleting keeps the runtime's state", ProvisioningDeleting, false, "", cs(running), StateRunning},
		{"Always: all exited 0", ProvisioningSucceeded, false, "Always", cs(exit(0), exit(0)), StateRunning},
		{"default policy: all exited 1", ProvisioningSucceeded, false, "", cs(exit(1)), StateRunning},
		{"Never: all exited 0", ProvisioningSucceeded, false, "Never", cs(exit(0), exit(0)), StateSucceeded},
		{"Never: one failed", ProvisioningSucceeded, false, "Never", cs(exit(0), exit(2)), StateFailed},
		{"Never: one failed, one running", ProvisioningSucceeded, false, "Never", cs(exit(1), running), StateRunning},
		{"Never: one done, one waiting", ProvisioningSucceeded, false, "Never", cs(exit(0), waiting), StateRunning},
		{"OnFailure: all exited 0", ProvisioningSucceeded, false, "OnFailure", cs(exit(0)), StateSucceeded},
		{"OnFailure: one failed", ProvisioningSucceeded, false, "OnFailure", cs(exit(0), exit(1)), StateRunning},
		{"OnFailure: running", ProvisioningSucceeded, false, "OnFailure", cs(running), StateRunning},
		{"Never while deleting", ProvisioningDeleting, false, "Never", cs(exit(0)), StateSucceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &group{spec: groupBody("local", tc.policy, 1, 1, "x"), provisioning: tc.provisioning,
				stopped: tc.stopped, status: runtime.GroupStatus{Containers: tc.containers}}
			if got := groupState(g); got != tc.want {
				t.Errorf("groupState = %s, want %s", got, tc.want)
			}
			wantHolds := !tc.stopped && tc.provisioning != ProvisioningFailed && !isTerminal(tc.want)
			if got := holdsCompute(g); got != wantHolds {
				t.Errorf("holdsCompute = %v, want %v", got, wantHolds)
			}
		})
	}
}

// ACI accepts restart policies in any case ("never"), and validation does
// too; the service canonicalises them, so groupState and the runtime see
// the policy the client meant.
func TestRestartPolicyCaseInsensitive(t *testing.T) {
	for in, want := range map[string]string{"never": "Never", "ONFAILURE": "OnFailure", "always": "Always", "Never": "Never"} {
		b := groupBody("local", in, 1, 1, "x")
		cleanSpec(b)
		if got := string(*b.Properties.RestartPolicy); got != want {
			t.Errorf("cleanSpec: restart policy %q became %q, want %q", in, got, want)
		}
	}

	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "job"}
	body := groupBody("local", "never", 1, 1, "x")
	body.Properties.Containers[0].Properties.Command = []*string{to.Ptr("exit"), to.Ptr("1")}
	res := h.mustPut(ref, body)
	if got := string(*res.Group.Properties.RestartPolicy); got != "Never" {
		t.Errorf("restart policy %q in the response, want Never", got)
	}
	h.sync()
	// Run as Never: the failed container is not restarted, the group failed
	// and holds no compute.
	st, err := h.rt.Status(h.ctx, h.uid(ref))
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Containers[0]; c.RestartCount != 0 || c.Current.State != runtime.StateTerminated {
		t.Errorf("runtime container %+v: want terminated, not restarted", c)
	}
	if got := h.state(ref); got != StateFailed {
		t.Errorf("state %s, want Failed", got)
	}
	if err := h.checkAccounting([]string{"sub"}); err != nil {
		t.Error(err)
	}
	if _, cores := h.s.usageOf("sub", "local"); cores != 0 {
		t.Errorf("a failed group holds %v cores", cores)
	}
}

// ---------------------------------------------------------------------------
// (b) mergeEvent

func TestMergeEventAggregates(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(c, name, msg, typ string, s int) store.Event {
		return store.Event{Container: c, Name: name, Message: msg, Type: typ, Count: 1, FirstTime: at(s), LastTime: at(s)}
	}
	var evs []store.Event
	evs = mergeEvent(evs, ev("web", "Pulling", "img", "Normal", 1))
	evs = mergeEvent(evs, ev("", "Pulling", "img", "Normal", 2))      // group event: separate
	evs = mergeEvent(evs, ev("web", "Pulling", "other", "Normal", 3)) // other message: separate
	evs = mergeEvent(evs, ev("web", "Pulled", "img", "Normal", 4))    // other name: separate
	evs = mergeEvent(evs, ev("web", "Pulling", "img", "Warning", 5))  // repeat
	rep := ev("web", "Pulling", "img", "Warning", 9)
	rep.Count = 3
	evs = mergeEvent(evs, rep)
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(evs), evs)
	}
	first := evs[0]
	if first.Count != 5 || !first.FirstTime.Equal(at(1)) || !first.LastTime.Equal(at(9)) || first.Type != "Warning" {
		t.Errorf("aggregated event %+v, want count 5, first 1 s, last 9 s, type Warning", first)
	}
	for _, e := range evs[1:] {
		if e.Count != 1 {
			t.Errorf("event %+v counted up", e)
		}
	}
}

func TestMergeEventCapsPerContainer(t *testing.T) {
	var evs []store.Event
	add := func(c string, i int) {
		evs = mergeEvent(evs, store.Event{Container: c, Name: "E", Message: fmt.Sprint(i), Type: "Normal", Count: 1,
			FirstTime: t0.Add(time.Duration(i) * time.Second), LastTime: t0.Add(time.Duration(i) * time.Second)})
	}
	for i := range 10 {
		add("side", i)
	}
	for i := range maxEventsPerContainer {
		add("web", i)
		add("", i)
	}
	if len(evs) != 10+2*maxEventsPerContainer {
		t.Fatalf("%d events before the cap", len(evs))
	}
	// Past the cap the oldest of that container goes; the others stay.
	for i := maxEventsPerContainer; i < maxEventsPerContainer+5; i++ {
		add("web", i)
	}
	count := map[string]int{}
	var web []string
	for _, e := range evs {
		count[e.Container]++
		if e.Container == "web" {
			web = append(web, e.Message)
		}
	}
	if count["web"] != maxEventsPerContainer || count[""] != maxEventsPerContainer || count["side"] != 10 {
		t.Errorf("counts %v, want web %d, group %d, side 10", count, maxEventsPerContainer, maxEventsPerContainer)
	}
	if web[0] != "5" || web[len(web)-1] != fmt.Sprint(maxEventsPerContainer+4) {
		t.Errorf("web events %v: want the oldest 5 dropped", web)
	}
	// A repeat of a kept event at the cap only counts up.
	add("web", 10)
	if len(evs) != 10+2*maxEventsPerContainer {
		t.Errorf("a repeat changed the number of events to %d", len(evs))
	}
	// The group's own events are capped as well.
	add("", 1000)
	n := 0
	for _, e := range evs {
		if e.Container == "" {
			n++
		}
	}
	if n != maxEventsPerContainer {
		t.Errorf("%d group events, want %d", n, maxEventsPerContainer)
	}
}

// ---------------------------------------------------------------------------
// (c) accounting

// checkAccounting compares the incremental quota and capacity totals with a
// recomputation over every group, and checks that admission kept them
// within the configured quotas and capacities and that exactly the groups
// holding compute are being metered. Callers must have waited for
// operations to end.
func (h *harness) checkAccounting(subs []string) error {
	s := h.s
	// Under s.mu, as the service changes metering together with the state.
	s.mu.Lock()
	defer s.mu.Unlock()
	open, err := h.st.OpenIntervals(h.ctx)
	if err != nil {
		return err
	}
	metered := map[string]bool{}
	for _, in := range open {
		metered[in.GroupUID] = true
	}
	type subWant struct {
		groups     int
		milliCores int64
	}
	wantSub := map[subLoc]*subWant{}
	wantLoc := map[string]*locUsage{}
	for _, l := range h.cfg.Locations {
		wantLoc[l.Name] = &locUsage{}
		for _, sub := range subs {
			wantSub[subLoc{strings.ToLower(sub), l.Name}] = &subWant{}
		}
	}
	var problems []string
	for _, g := range s.groups {
		k := subLoc{strings.ToLower(g.sub), g.location}
		if wantSub[k] == nil || wantLoc[g.location] == nil {
			problems = append(problems, fmt.Sprintf("group %s in unexpected %v", g.key, k))
			continue
		}
		wantSub[k].groups++
		holds := holdsCompute(g)
		if holds {
			cpu, mem := totals(g.spec)
			wantSub[k].milliCores += milli(cpu)
			wantLoc[g.location].milliCPU += milli(cpu)
			wantLoc[g.location].memoryMB += milli(mem)
		}
		if holds != metered[g.uid] {
			status, _ := json.Marshal(g.status)
			problems = append(problems, fmt.Sprintf("group %s (state %s, provisioning %s, stopped %v) holds compute %v but metered %v; status %s; usage %s",
				g.key, groupState(g), g.provisioning, g.stopped, holds, metered[g.uid], status, h.usageRows(g.uid)))
		}
		delete(metered, g.uid)
	}
	for uid := range metered {
		problems = append(problems, fmt.Sprintf("usage of %s still open but the group is gone", uid))
	}
	for k, w := range wantSub {
		loc, _ := h.cfg.Location(k.location)
		// usageOf folds the subscription's case: ask with another spelling.
		for _, spelling := range []string{k.sub, strings.ToUpper(k.sub)} {
			groups, cores := s.usageOf(spelling, k.location)
			if groups != w.groups || cores != float64(w.milliCores)/1000 {
				problems = append(problems, fmt.Sprintf("usageOf(%s, %s) = %d groups %v cores, recomputed %d groups %v cores",
					spelling, k.location, groups, cores, w.groups, float64(w.milliCores)/1000))
			}
		}
		if w.groups > loc.Quota.ContainerGroups || ceilInt(float64(w.milliCores)/1000) > loc.Quota.StandardCores {
			problems = append(problems, fmt.Sprintf("%v over quota: %d groups, %d milli-cores", k, w.groups, w.milliCores))
		}
	}
	for name, w := range wantLoc {
		cpu, mem := s.capacityUsed(name)
		if cpu != float64(w.milliCPU)/1000 || mem != float64(w.memoryMB)/1000 {
			problems = append(problems, fmt.Sprintf("capacityUsed(%s) = %v CPU %v GB, recomputed %v CPU %v GB",
				name, cpu, mem, float64(w.milliCPU)/1000, float64(w.memoryMB)/1000))
		}
		loc, _ := h.cfg.Location(name)
		if (loc.Capacity.CPU > 0 && cpu > loc.Capacity.CPU+1e-9) || (loc.Capacity.MemoryInGB > 0 && mem > loc.Capacity.MemoryInGB+1e-9) {
			problems = append(problems, fmt.Sprintf("location %s over capacity: %v CPU %v GB", name, cpu, mem))
		}
	}
	// Nothing else is accounted.
	for k, u := range s.acct.bySub {
		if wantSub[k] == nil && (u.groups != 0 || u.milliCores != 0) {
			problems = append(problems, fmt.Sprintf("stray accounting for %v: %+v", k, *u))
		}
	}
	for k, u := range s.acct.byLoc {
		if wantLoc[k] == nil && (u.milliCPU != 0 || u.memoryMB != 0) {
			problems = append(problems, fmt.Sprintf("stray accounting for location %s: %+v", k, *u))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// usageRows renders a group's metered intervals, for failure messages.
// It reads the database directly: the store has no query for them.
func (h *harness) usageRows(uid string) string {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(h.cfg.DataDir, store.FileName)+"?mode=ro")
	if err != nil {
		return err.Error()
	}
	defer db.Close()
	rows, err := db.QueryContext(h.ctx, `SELECT start_time, end_time FROM usage WHERE group_uid = ? ORDER BY id`, uid)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var start int64
		var end sql.NullInt64
		if err := rows.Scan(&start, &end); err != nil {
			return err.Error()
		}
		if end.Valid {
			fmt.Fprintf(&b, "[%d,%d) ", start-t0.Unix(), end.Int64-t0.Unix())
		} else {
			fmt.Fprintf(&b, "[%d,…) ", start-t0.Unix())
		}
	}
	fmt.Fprintf(&b, "now %d", h.clk.Now().Unix()-t0.Unix())
	return b.String()
}

// TestAccountingInvariant runs a random sequence of creates, updates,
// stops, starts, deletes, restarts and container exits, and after each
// step checks the incremental quota and capacity totals against a
// recomputation (checkAccounting), and that the service's view of every
// group has converged to the runtime's.
//
// For the view to be comparable with the runtime's after each step, the
// sequence waits for the runtime's reports to be applied (sync), and no
// runtime timers run (no sleeping commands, no restart back-off): a report
// fired by the clock could still be on its way when the views are compared.
// Reports arriving late are TestLateReportAfterRedeploy's and
// TestUpdateQueueRemovedThenRunning's.
func TestAccountingInvariant(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		local := config.DefaultLocationSpec("local")
		local.Quota = config.Quota{StandardCores: 4, ContainerGroups: 4}
		local.Capacity = config.Capacity{CPU: 6, MemoryInGB: 8}
		second := config.DefaultLocationSpec("second")
		second.Quota = config.Quota{StandardCores: 6, ContainerGroups: 5}
		c.Locations = []config.Location{local, second}
	})
	rng := rand.New(rand.NewSource(20260304))
	subs := []string{"Sub-A", "sub-b"}
	locs := []string{"local", "second"}
	const names = 6
	policies := []string{"Never", "Never", "Never", "OnFailure", "Always", ""}
	cpus := []float64{1, 1.5, 2}
	mems := []float64{1, 1.5, 2, 3}
	exit := func(code string) []*string { return []*string{to.Ptr("exit"), to.Ptr(code)} }
	// Commands by restart policy that never start a back-off timer.
	commands := map[string][][]*string{
		"Never":     {nil, nil, exit("0"), exit("1")},
		"OnFailure": {nil, nil, exit("0")},
		"Always":    {nil},
		"":          {nil},
	}

	randRef := func() (Ref, int) {
		sub := subs[rng.Intn(len(subs))]
		switch rng.Intn(3) { // the subscription's case does not matter
		case 1:
			sub = strings.ToUpper(sub)
		case 2:
			sub = strings.ToLower(sub)
		}
		i := rng.Intn(names)
		return Ref{Subscription: sub, ResourceGroup: "rg", Name: fmt.Sprintf("g%d", i)}, i
	}
	type groupInfo struct {
		ref    Ref
		uid    string
		policy string
	}
	// existing returns the groups of the sequence, sorted by key.
	existing := func() []groupInfo {
		h.s.mu.Lock()
		defer h.s.mu.Unlock()
		var keys []string
		for k := range h.s.groups {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var gs []groupInfo
		for _, k := range keys {
			g := h.s.groups[k]
			policy := ""
			if rp := g.spec.Properties.RestartPolicy; rp != nil {
				policy = string(*rp)
			}
			gs = append(gs, groupInfo{Ref{g.sub, g.rg, g.name}, g.uid, policy})
		}
		return gs
	}

	var trail []string
	outcomes := map[string]int{}
	record := func(format string, args ...any) { trail = append(trail, fmt.Sprintf(format, args...)) }
	outcome := func(action string, err error) {
		var ae *errdefs.Error
		switch {
		case err == nil:
			outcomes[action+":ok"]++
		case errors.As(err, &ae):
			outcomes[action+":"+ae.Code]++
		default:
			outcomes[action+":error"]++
		}
	}
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("after step %d: %s\nlast steps:\n%s", step, fmt.Sprintf(format, args...),
			strings.Join(trail[max(0, len(trail)-15):], "\n"))
	}

	const steps = 300
	for step := range steps {
		h.clk.Step(time.Duration(rng.Intn(20)) * time.Second)
		// touched is set when the step may have made the runtime report.
		touched := false
		switch p := rng.Intn(100); {
		case p < 35: // create or update
			ref, i := randRef()
			loc := locs[i%2]
			if rng.Intn(10) == 0 {
				loc = locs[(i+1)%2]
			}
			body := groupBody(loc, policies[i], cpus[rng.Intn(len(cpus))], mems[rng.Intn(len(mems))],
				[]string{"a", "b"}[rng.Intn(2)])
			c := body.Properties.Containers[0].Properties
			cmds := commands[policies[i]]
			c.Command = cmds[rng.Intn(len(cmds))]
			if rng.Intn(20) == 0 {
				c.Image = to.Ptr("registry.test/inaccessible:1")
			}
			if rng.Intn(4) == 0 {
				c.EnvironmentVariables = append(c.EnvironmentVariables,
					&aci.EnvironmentVariable{Name: to.Ptr("TOKEN"), SecureValue: to.Ptr(fmt.Sprint("s", rng.Intn(2)))})
			}
			res, err := h.s.CreateOrUpdate(h.ctx, ref, body, wire.GroupExtensions{})
			record("%d put %s/%s loc=%s cpu=%v cmd=%v: %v", step, ref.Subscription, ref.Name, loc,
				*c.Resources.Requests.CPU, strs(c.Command), err)
			outcome("put", err)
			if err == nil && res.Operation != nil {
				h.waitSettled(ref)
				touched = true
			}
		case p < 47: // stop
			ref, _ := randRef()
			err := h.s.Stop(h.ctx, ref, 0)
			record("%d stop %s: %v", step, ref.Name, err)
			outcome("stop", err)
			touched = err == nil
		case p < 59: // start
			ref, _ := randRef()
			op, err := h.s.Start(h.ctx, ref)
			record("%d start %s: %v (op %v)", step, ref.Name, err, op != nil)
			outcome("start", err)
			if err == nil && op != nil {
				h.waitSettled(ref)
				touched = true
			}
		case p < 70: // delete
			ref, _ := randRef()
			res, err := h.s.Delete(h.ctx, ref, 0)
			started := err == nil && res.Operation != nil
			record("%d delete %s: %v (op %v)", step, ref.Name, err, started)
			outcome("delete", err)
			if started {
				h.waitGone(ref)
				touched = true
			}
		case p < 92: // a container exits on its own
			gs := existing()
			if len(gs) == 0 {
				continue
			}
			g := gs[rng.Intn(len(gs))]
			code := int32(rng.Intn(2))
			if g.policy != "Never" && (g.policy != "OnFailure" || code != 0) {
				// It would be restarted after a back-off, on a timer.
				continue
			}
			err := h.rt.ExitContainer(g.uid, "main", code)
			record("%d exit %s code %d: %v", step, g.ref.Name, code, err)
			if err == nil {
				outcomes["exit:ok"]++
				touched = true
			} else {
				outcomes["exit:not running"]++
			}
		case p < 96: // restart a running group
			gs := existing()
			if len(gs) == 0 {
				continue
			}
			ref := gs[rng.Intn(len(gs))].ref
			if st := h.state(ref); st != StateRunning && st != StatePending {
				// Restarting a finished group is TestRestartFinishedGroup's.
				continue
			}
			err := h.s.Restart(h.ctx, ref)
			record("%d restart %s: %v", step, ref.Name, err)
			outcome("restart", err)
			touched = err == nil
		default: // tags
			ref, _ := randRef()
			_, err := h.s.UpdateTags(h.ctx, ref, map[string]*string{"step": to.Ptr(fmt.Sprint(step))})
			record("%d tags %s: %v", step, ref.Name, err)
			outcome("tags", err)
		}
		if touched {
			h.sync()
		}
		if diff := h.unsynced(); diff != "" {
			fail(step, "the service's view differs from the runtime's: %s", diff)
		}
		if err := h.checkAccounting(subs); err != nil {
			fail(step, "%v", err)
		}
	}
	t.Logf("outcomes: %v", outcomes)
	// The sequence must have exercised admission and the main paths.
	for _, want := range []string{"put:ok", "put:ContainerGroupQuotaReached", "put:ServiceUnavailable",
		"put:InvalidContainerGroupUpdate", "stop:ok", "start:ok", "delete:ok", "exit:ok", "restart:ok"} {
		if outcomes[want] == 0 {
			t.Errorf("no %s in the sequence: %v", want, outcomes)
		}
	}

	// A restarted service recomputes the same totals from the store.
	before := snapshotAccounting(h.s)
	h.s.Close()
	h.s = h.open()
	h.sync()
	if after := snapshotAccounting(h.s); !reflect.DeepEqual(before, after) {
		t.Errorf("accounting after restart:\n got %v\nwant %v", after, before)
	}
	if err := h.checkAccounting(subs); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

func snapshotAccounting(s *Service) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, u := range s.acct.bySub {
		if u.groups != 0 || u.milliCores != 0 {
			out["sub "+k.sub+"/"+k.location] = fmt.Sprintf("%d/%d", u.groups, u.milliCores)
		}
	}
	for k, u := range s.acct.byLoc {
		if u.milliCPU != 0 || u.memoryMB != 0 {
			out["loc "+k] = fmt.Sprintf("%d/%d", u.milliCPU, u.memoryMB)
		}
	}
	return out
}

// A finished group (restart policy Never, its container exited) no longer
// holds compute and its metering has ended. Restart would bring its
// containers back without admission or metering, so it is refused (Start
// deploys it anew).
func TestRestartFinishedGroup(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "job"}
	h.mustPut(ref, groupBody("local", "Never", 1, 1, "a"))
	if err := h.rt.ExitContainer(h.uid(ref), "main", 0); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if st := h.state(ref); st != StateSucceeded {
		t.Fatalf("state %s after the exit, want Succeeded", st)
	}
	err := h.s.Restart(h.ctx, ref)
	var ae *errdefs.Error
	if !errors.As(err, &ae) || ae.Code != "ContainerGroupNotRunning" || armerr.Status(ae.Kind) != http.StatusConflict {
		t.Errorf("Restart of a finished group = %v, want 409 ContainerGroupNotRunning", err)
	}
	h.sync()
	if st, _ := h.rt.Status(h.ctx, h.uid(ref)); st.Containers[0].Current.State != runtime.StateTerminated {
		t.Errorf("the runtime restarted the finished group: %+v", st.Containers[0])
	}
	if err := h.checkAccounting([]string{"sub"}); err != nil {
		t.Errorf("after restarting a finished group: %v", err)
	}
	// A stopped group is refused as well; a running one restarts.
	op, err := h.s.Start(h.ctx, ref)
	if err != nil || op == nil {
		t.Fatalf("Start = %v, %v", op, err)
	}
	h.waitSettled(ref)
	if err := h.s.Restart(h.ctx, ref); err != nil {
		t.Errorf("Restart of a running group: %v", err)
	}
	if err := h.s.Stop(h.ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Restart(h.ctx, ref); !errors.As(err, &ae) || ae.Code != "ContainerGroupNotRunning" {
		t.Errorf("Restart of a stopped group = %v, want ContainerGroupNotRunning", err)
	}
	h.sync()
	if err := h.checkAccounting([]string{"sub"}); err != nil {
		t.Error(err)
	}
}

// A stopped or finished group is deployed anew, so a PUT may change what a
// running group cannot (validate.ImmutableChange is skipped), and the new
// resources are admitted and accounted.
func TestUpdateStoppedGroupMayResize(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "web"}
	h.mustPut(ref, groupBody("local", "", 1, 1, "a"))
	// Running: the resources cannot change in place.
	_, err := h.s.CreateOrUpdate(h.ctx, ref, groupBody("local", "", 2, 3, "a"), wire.GroupExtensions{})
	var ae *errdefs.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidContainerGroupUpdate" || armerr.Status(ae.Kind) != http.StatusConflict {
		t.Fatalf("PUT with more CPU on a running group: %v, want 409 InvalidContainerGroupUpdate", err)
	}
	// Neither can the restart policy.
	_, err = h.s.CreateOrUpdate(h.ctx, ref, groupBody("local", "Never", 1, 1, "a"), wire.GroupExtensions{})
	if !errors.As(err, &ae) || ae.Code != "InvalidContainerGroupUpdate" {
		t.Fatalf("PUT changing the restart policy of a running group: %v", err)
	}
	if err := h.s.Stop(h.ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	h.sync()
	res, err := h.s.CreateOrUpdate(h.ctx, ref, groupBody("local", "", 2, 3, "a"), wire.GroupExtensions{})
	if err != nil {
		t.Fatalf("PUT with more CPU on a stopped group: %v", err)
	}
	if res.Operation == nil || res.Operation.Kind != kindStart {
		t.Fatalf("operation %+v, want a start", res.Operation)
	}
	h.waitSettled(ref)
	h.sync()
	if diff := h.unsynced(); diff != "" {
		t.Error(diff)
	}
	if err := h.checkAccounting([]string{"sub"}); err != nil {
		t.Error(err)
	}
	if _, cores := h.s.usageOf("sub", "local"); cores != 2 {
		t.Errorf("cores %v, want 2", cores)
	}
}

// The runtime's reports reach the service asynchronously, while an
// operation reads the runtime's status directly (finishDeploy, Stop). A
// report published before a redeploy and applied after it (applyUpdates
// takes a batch, then waits for s.mu while the operation holds it; a
// redeploy keeps the group's uid) must not overwrite the newer status: the
// running group would be shown finished, its metering closed and its
// compute released although the runtime runs it. An earlier version of
// TestAccountingInvariant hit this; here the late report is delivered
// explicitly through the same queue.
func TestLateReportAfterRedeploy(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "job"}
	done := groupBody("local", "Never", 1, 1, "a")
	done.Properties.Containers[0].Properties.Command = []*string{to.Ptr("exit"), to.Ptr("0")}
	h.mustPut(ref, done)
	h.sync()
	if st := h.state(ref); st != StateSucceeded {
		t.Fatalf("state %s, want Succeeded", st)
	}
	// What the runtime reported when the group finished.
	stale, err := h.rt.Status(h.ctx, h.uid(ref))
	if err != nil {
		t.Fatal(err)
	}
	h.clk.Step(10 * time.Second)
	res := h.mustPut(ref, groupBody("local", "Never", 1, 1, "a")) // runs until stopped
	if res.Operation == nil || res.Operation.Kind != kindStart {
		t.Fatalf("operation %+v, want a start", res.Operation)
	}
	h.sync()
	if st := h.state(ref); st != StateRunning {
		t.Fatalf("state %s after the redeploy, want Running", st)
	}
	// The finished report arrives late.
	h.s.updates.push(runtime.Update{Status: stale})
	h.sync()
	if st := h.state(ref); st != StateRunning {
		t.Errorf("state %s after a late report, want Running (the runtime runs the group)", st)
	}
	open, err := h.st.OpenIntervals(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(open, func(in store.Interval) bool { return in.GroupUID == h.uid(ref) }) {
		t.Error("the running group is no longer metered")
	}
	if _, cores := h.s.usageOf("sub", "local"); cores != 1 {
		t.Errorf("the running group's cores are released: %v, want 1", cores)
	}
	if diff := h.unsynced(); diff != "" {
		t.Errorf("the service's view differs from the runtime's: %s", diff)
	}
}

// The service's queue of runtime reports coalesces per group. A report
// that the group was removed followed by one that it runs again (a
// redeploy keeps the id: Remove then Run) must not leave the merged report
// marked removed, or applyUpdate drops the new status (and, say, a
// container exit merged into it). The fake runtime's watcher takes the
// same care.
func TestUpdateQueueRemovedThenRunning(t *testing.T) {
	q := newUpdateQueue()
	q.push(runtime.Update{Status: runtime.GroupStatus{ID: "g"}, Removed: true})
	running := runtime.GroupStatus{ID: "g", Containers: []runtime.ContainerStatus{{Name: "main",
		Current: runtime.ContainerState{State: runtime.StateRunning}}}}
	q.push(runtime.Update{Status: running, Events: []runtime.Event{{Name: "Started"}}})
	batch, ok := q.take()
	if !ok {
		t.Fatal("queue closed")
	}
	var last runtime.Update
	for _, u := range batch {
		if u.Status.ID == "g" {
			last = u
		}
	}
	if last.Removed || !reflect.DeepEqual(last.Status, running) {
		t.Errorf("last report for g: removed %v, status %+v; want the running status, not removed", last.Removed, last.Status)
	}
}

func TestUpdateQueueCoalesces(t *testing.T) {
	q := newUpdateQueue()
	st := func(id, ip string) runtime.GroupStatus { return runtime.GroupStatus{ID: id, IP: ip} }
	q.push(runtime.Update{Status: st("a", "1"), Events: []runtime.Event{{Name: "e1"}}})
	q.push(runtime.Update{Status: st("b", "1")})
	q.push(runtime.Update{Status: st("a", "2"), Events: []runtime.Event{{Name: "e2"}}})
	batch, ok := q.take()
	if !ok || len(batch) != 2 {
		t.Fatalf("batch %+v, %v", batch, ok)
	}
	if batch[0].Status.ID != "a" || batch[0].Status.IP != "2" || len(batch[0].Events) != 2 || batch[1].Status.ID != "b" {
		t.Errorf("batch %+v: want a (newest status, both events) then b", batch)
	}
	q.close()
	if _, ok := q.take(); ok {
		t.Error("take after close returned a batch")
	}
	q.push(runtime.Update{Status: st("c", "")}) // ignored, does not block
}

// ---------------------------------------------------------------------------
// (d) secrets

func secretBody() *aci.ContainerGroup {
	b := groupBody("local", "", 1, 1, "plain-value")
	web := b.Properties.Containers[0]
	web.Properties.EnvironmentVariables = append(web.Properties.EnvironmentVariables,
		&aci.EnvironmentVariable{Name: to.Ptr("TOKEN"), SecureValue: to.Ptr("env-secret-1")})
	web.Properties.VolumeMounts = []*aci.VolumeMount{
		{Name: to.Ptr("config"), MountPath: to.Ptr("/conf")},
		{Name: to.Ptr("datashare"), MountPath: to.Ptr("/share")},
	}
	b.Properties.Containers = append(b.Properties.Containers, &aci.Container{
		Name: to.Ptr("side"),
		Properties: &aci.ContainerProperties{
			Image:     to.Ptr("registry.test/side:1"),
			Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(0.5), MemoryInGB: to.Ptr(0.5)}},
			EnvironmentVariables: []*aci.EnvironmentVariable{
				{Name: to.Ptr("TOKEN"), SecureValue: to.Ptr("env-secret-2")},
				{Name: to.Ptr("EMPTY_SECRET"), SecureValue: to.Ptr("")},
			},
		},
	})
	b.Properties.InitContainers = []*aci.InitContainerDefinition{{
		Name: to.Ptr("init"),
		Properties: &aci.InitContainerPropertiesDefinition{
			Image:                to.Ptr("busybox"),
			EnvironmentVariables: []*aci.EnvironmentVariable{{Name: to.Ptr("INIT_TOKEN"), SecureValue: to.Ptr("init-secret")}},
		},
	}}
	b.Properties.ImageRegistryCredentials = []*aci.ImageRegistryCredential{
		{Server: to.Ptr("registry.test"), Username: to.Ptr("user"), Password: to.Ptr("registry-password")},
		{Server: to.Ptr("other.test"), Username: to.Ptr("u2")},
	}
	b.Properties.Volumes = []*aci.Volume{
		{Name: to.Ptr("config"), Secret: map[string]*string{
			"app.conf": to.Ptr(base64.StdEncoding.EncodeToString([]byte("file-secret-contents"))),
			"empty":    to.Ptr(""),
		}},
		{Name: to.Ptr("datashare"), AzureFile: &aci.AzureFileVolume{ShareName: to.Ptr("data"),
			StorageAccountName: to.Ptr("acct"), StorageAccountKey: to.Ptr("share-account-key")}},
	}
	b.Properties.Diagnostics = &aci.ContainerGroupDiagnostics{LogAnalytics: &aci.LogAnalytics{
		WorkspaceID: to.Ptr("workspace-id"), WorkspaceKey: to.Ptr("workspace-key-secret")}}
	return b
}

var secretStrings = []string{"env-secret-1", "env-secret-2", "init-secret", "registry-password",
	base64.StdEncoding.EncodeToString([]byte("file-secret-contents")), "file-secret-contents",
	"share-account-key", "workspace-key-secret"}

func leaks(v any) []string {
	data, _ := json.Marshal(v)
	var out []string
	for _, s := range secretStrings {
		if bytes.Contains(data, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

func TestSplitSecretsAndRuntimeSpec(t *testing.T) {
	b := secretBody()
	cleanSpec(b)
	sv := splitSecrets(b)
	if l := leaks(b); len(l) > 0 {
		t.Errorf("spec still holds %v", l)
	}
	want := &secretValues{
		Env: map[string]map[string]string{
			"main": {"TOKEN": "env-secret-1"},
			"side": {"TOKEN": "env-secret-2", "EMPTY_SECRET": ""},
			"init": {"INIT_TOKEN": "init-secret"},
		},
		RegistryPasswords: map[string]string{"registry.test": "registry-password"},
		SecretVolumes: map[string]map[string]string{"config": {
			"app.conf": base64.StdEncoding.EncodeToString([]byte("file-secret-contents")), "empty": ""}},
		ShareKeys:    map[string]string{"datashare": "share-account-key"},
		WorkspaceKey: "workspace-key-secret",
	}
	if !reflect.DeepEqual(sv, want) {
		t.Errorf("secrets:\n got %+v\nwant %+v", sv, want)
	}
	// What is not secret stays: names of secure variables and secret files,
	// the plain variable, the registry user, the workspace id.
	p := b.Properties
	if v := p.Containers[0].Properties.EnvironmentVariables; len(v) != 2 || *v[1].Name != "TOKEN" || v[1].SecureValue != nil ||
		*v[0].Value != "plain-value" {
		t.Errorf("main env %+v", v)
	}
	if vol := p.Volumes[0].Secret; len(vol) != 2 || vol["app.conf"] != nil {
		t.Errorf("secret volume %v: want the file names without contents", vol)
	}
	if *p.ImageRegistryCredentials[0].Username != "user" || p.ImageRegistryCredentials[0].Password != nil {
		t.Errorf("registry credential %+v", p.ImageRegistryCredentials[0])
	}
	if *p.Volumes[1].AzureFile.StorageAccountName != "acct" || p.Volumes[1].AzureFile.StorageAccountKey != nil {
		t.Errorf("azure file %+v", p.Volumes[1].AzureFile)
	}
	if *p.Diagnostics.LogAnalytics.WorkspaceID != "workspace-id" || p.Diagnostics.LogAnalytics.WorkspaceKey != nil {
		t.Errorf("log analytics %+v", p.Diagnostics.LogAnalytics)
	}

	spec, err := runtimeSpec("uid-1", "grp", "/subscriptions/s/id", b, sv, wire.GroupExtensions{})
	if err != nil {
		t.Fatal(err)
	}
	if spec.ID != "uid-1" || spec.Name != "grp" || spec.Labels["vnode.io/resource-id"] != "/subscriptions/s/id" ||
		spec.RestartPolicy != runtime.RestartAlways {
		t.Errorf("spec header %+v", spec)
	}
	wantEnv := map[string][]runtime.EnvVar{
		"main": {{Name: "MODE", Value: "plain-value"}, {Name: "TOKEN", Value: "env-secret-1", Secure: true}},
		"side": {{Name: "TOKEN", Value: "env-secret-2", Secure: true}, {Name: "EMPTY_SECRET", Value: "", Secure: true}},
		"init": {{Name: "INIT_TOKEN", Value: "init-secret", Secure: true}},
	}
	for _, c := range slices.Concat(spec.Containers, spec.InitContainers) {
		if !reflect.DeepEqual(c.Env, wantEnv[c.Name]) {
			t.Errorf("container %s env %+v, want %+v", c.Name, c.Env, wantEnv[c.Name])
		}
	}
	if len(spec.Containers) != 2 || spec.Containers[0].CPU != 1 || spec.Containers[1].MemoryInGB != 0.5 {
		t.Errorf("containers %+v", spec.Containers)
	}
	wantCreds := []runtime.RegistryCredential{{Server: "registry.test", Username: "user", Password: "registry-password"},
		{Server: "other.test", Username: "u2"}}
	if !reflect.DeepEqual(spec.RegistryCredentials, wantCreds) {
		t.Errorf("registry credentials %+v", spec.RegistryCredentials)
	}
	if len(spec.Volumes) != 2 {
		t.Fatalf("volumes %+v", spec.Volumes)
	}
	if got := spec.Volumes[0].Secret; !reflect.DeepEqual(got, map[string][]byte{"app.conf": []byte("file-secret-contents"), "empty": {}}) {
		t.Errorf("secret files %q", got)
	}
	if af := spec.Volumes[1].AzureFile; af == nil || af.StorageAccountKey != "share-account-key" || af.ShareName != "data" {
		t.Errorf("azure file %+v", af)
	}
}

func TestRuntimeSpecRejectsBadSecretFile(t *testing.T) {
	b := groupBody("local", "", 1, 1, "x")
	b.Properties.Volumes = []*aci.Volume{{Name: to.Ptr("v"), Secret: map[string]*string{"f": nil}}}
	sv := &secretValues{SecretVolumes: map[string]map[string]string{"v": {"f": "not base64!"}}}
	if _, err := runtimeSpec("u", "n", "", b, sv, wire.GroupExtensions{}); err == nil {
		t.Error("runtimeSpec accepted secret contents that are not base64")
	}
}

// Secrets never come back from the API nor reach the store unsealed, and a
// restarted service still has them.
func TestSecretsKeptApart(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "secretive"}
	res := h.mustPut(ref, secretBody())
	if l := leaks(res.Group); len(l) > 0 {
		t.Errorf("PUT response holds %v", l)
	}
	got, err := h.s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Properties.ProvisioningState != ProvisioningSucceeded {
		t.Fatalf("provisioning %s", *got.Properties.ProvisioningState)
	}
	if l := leaks(got); len(l) > 0 {
		t.Errorf("GET holds %v", l)
	}
	items, _ := h.s.List("sub", "", "", 0)
	if l := leaks(items); len(l) > 0 {
		t.Errorf("list holds %v", l)
	}
	recs, err := h.st.Groups(h.ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %v, %v", recs, err)
	}
	for _, blob := range [][]byte{recs[0].Spec, recs[0].Secrets, recs[0].Status} {
		for _, s := range secretStrings {
			if bytes.Contains(blob, []byte(s)) {
				t.Errorf("stored record holds %q", s)
			}
		}
	}
	h.s.mu.Lock()
	before := *h.s.groups[ref.key()].secrets
	h.s.mu.Unlock()

	h.s.Close()
	h.s = h.open()
	h.s.mu.Lock()
	after := *h.s.groups[ref.key()].secrets
	h.s.mu.Unlock()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("secrets after restart %+v, want %+v", after, before)
	}
}

// ---------------------------------------------------------------------------
// (e) specEqual

func TestSpecEqual(t *testing.T) {
	prepare := func(mut func(*aci.ContainerGroup)) (*aci.ContainerGroup, *secretValues) {
		b := secretBody()
		b.Tags = map[string]*string{"team": to.Ptr("a")}
		if mut != nil {
			mut(b)
		}
		cleanSpec(b)
		return b, splitSecrets(b)
	}
	a, sa := prepare(nil)
	cases := []struct {
		name  string
		mut   func(*aci.ContainerGroup)
		equal bool
	}{
		{"identical", nil, true},
		{"other tags", func(b *aci.ContainerGroup) { b.Tags = map[string]*string{"team": to.Ptr("b"), "new": nil} }, true},
		{"no tags", func(b *aci.ContainerGroup) { b.Tags = nil }, true},
		{"read-only fields the service computes", func(b *aci.ContainerGroup) {
			b.ID, b.Name = to.Ptr("/x"), to.Ptr("x")
			b.Properties.ProvisioningState = to.Ptr("Succeeded")
		}, true},
		{"env value", func(b *aci.ContainerGroup) {
			b.Properties.Containers[0].Properties.EnvironmentVariables[0].Value = to.Ptr("other")
		}, false},
		{"secure env value", func(b *aci.ContainerGroup) {
			b.Properties.Containers[0].Properties.EnvironmentVariables[1].SecureValue = to.Ptr("rotated")
		}, false},
		{"secret file contents", func(b *aci.ContainerGroup) {
			b.Properties.Volumes[0].Secret["app.conf"] = to.Ptr(base64.StdEncoding.EncodeToString([]byte("v2")))
		}, false},
		{"share key", func(b *aci.ContainerGroup) {
			b.Properties.Volumes[1].AzureFile.StorageAccountKey = to.Ptr("rotated")
		}, false},
		{"registry password", func(b *aci.ContainerGroup) {
			b.Properties.ImageRegistryCredentials[0].Password = to.Ptr("rotated")
		}, false},
		{"workspace key", func(b *aci.ContainerGroup) {
			b.Properties.Diagnostics.LogAnalytics.WorkspaceKey = to.Ptr("rotated")
		}, false},
		{"image", func(b *aci.ContainerGroup) {
			b.Properties.Containers[1].Properties.Image = to.Ptr("registry.test/side:2")
		}, false},
	}
	for _, tc := range cases {
		b, sb := prepare(tc.mut)
		if got := specEqual(a, b, sa, sb); got != tc.equal {
			t.Errorf("%s: specEqual = %v, want %v", tc.name, got, tc.equal)
		}
	}
}

// Through the service: a PUT changing only tags completes at once, one
// changing an env value or a secret redeploys.
func TestPutOnlyTagsChangedIsSynchronous(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "web"}
	first := h.mustPut(ref, secretBody())
	if !first.Created || first.Operation == nil || first.Operation.Kind != kindCreate {
		t.Fatalf("create result %+v", first)
	}
	runs := h.rt.Runs()

	b := secretBody()
	b.Tags = map[string]*string{"v": to.Ptr("2")}
	res := h.mustPut(ref, b)
	if res.Created || res.Operation != nil {
		t.Errorf("tags-only PUT: created %v, operation %+v; want neither", res.Created, res.Operation)
	}
	if got := res.Group.Tags["v"]; got == nil || *got != "2" {
		t.Errorf("tags %v", res.Group.Tags)
	}
	if h.rt.Runs() != runs {
		t.Errorf("tags-only PUT redeployed")
	}

	for name, mut := range map[string]func(*aci.ContainerGroup){
		"env value": func(b *aci.ContainerGroup) {
			b.Properties.Containers[0].Properties.EnvironmentVariables[0].Value = to.Ptr("v2")
		},
		"secret": func(b *aci.ContainerGroup) {
			b.Properties.Containers[0].Properties.EnvironmentVariables[1].SecureValue = to.Ptr("rotated")
		},
	} {
		b := secretBody()
		mut(b)
		res := h.mustPut(ref, b)
		if res.Operation == nil || res.Operation.Kind != kindUpdate {
			t.Errorf("%s: operation %+v, want an update", name, res.Operation)
		}
		if g, _ := h.s.Get(ref); *g.Properties.ProvisioningState != ProvisioningSucceeded {
			t.Errorf("%s: provisioning %s", name, *g.Properties.ProvisioningState)
		}
	}
	if h.rt.Runs() != runs+2 {
		t.Errorf("runs %d, want %d", h.rt.Runs(), runs+2)
	}
}

// A group without an ipAddress section still shows the address it has on
// the groups' network, as a private one, and only while it runs.
func TestAddressOfGroupWithoutPorts(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "noports"}
	body := groupBody("local", "Always", 1, 1, "a")
	body.Properties.IPAddress = nil
	h.mustPut(ref, body)
	h.waitSettled(ref)
	g, err := h.s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	ip := g.Properties.IPAddress
	if ip == nil || ip.IP == nil || *ip.IP == "" || ip.Type == nil || *ip.Type != "Private" || len(ip.Ports) != 0 {
		t.Fatalf("ipAddress of a group without ports: %+v", ip)
	}
	if err := h.s.Stop(h.ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	if g, _ := h.s.Get(ref); g.Properties.IPAddress != nil {
		t.Errorf("a stopped group shows an address: %+v", g.Properties.IPAddress)
	}
}

// Generations order one runtime instance's reports. After a restart of the
// service its runtime counts afresh: its reports must replace the status
// saved with a larger generation by the previous instance.
func TestReportsAfterRestartAreNotTakenForOld(t *testing.T) {
	h := newHarness(t, nil)
	ref := Ref{Subscription: "sub", ResourceGroup: "rg", Name: "web"}
	h.mustPut(ref, groupBody("local", "Always", 1, 1, "a"))
	h.sync()
	// The previous runtime instance had counted far.
	st, err := h.rt.Status(h.ctx, h.uid(ref))
	if err != nil {
		t.Fatal(err)
	}
	st.Generation = 1 << 40
	h.s.updates.push(runtime.Update{Status: st})
	h.sync()
	h.s.Close()
	h.s = h.open()
	h.sync()
	// The new instance's first report: the container exited.
	if err := h.rt.ExitContainer(h.uid(ref), "main", 3); err != nil {
		t.Fatal(err)
	}
	h.sync()
	g, err := h.s.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	iv := g.Properties.Containers[0].Properties.InstanceView
	exited := func(s *aci.ContainerState) bool { return s != nil && s.ExitCode != nil && *s.ExitCode == 3 }
	if !exited(iv.CurrentState) && !exited(iv.PreviousState) {
		t.Errorf("the exit after the restart was ignored: current %+v previous %+v", iv.CurrentState, iv.PreviousState)
	}
}

// TestGroupStateWithInitContainers: a failed init container ends a group
// under Never (its containers never start) and not under the others, which
// retry it.
func TestGroupStateWithInitContainers(t *testing.T) {
	waiting := runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateWaiting}}
	running := runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateRunning}}
	exit := func(code int32) runtime.ContainerStatus {
		return runtime.ContainerStatus{Current: runtime.ContainerState{State: runtime.StateTerminated, ExitCode: code}}
	}
	cases := []struct {
		name, policy string
		inits        []runtime.ContainerStatus
		want         string
	}{
		{"Never: an init container failed", "Never", []runtime.ContainerStatus{exit(0), exit(1)}, StateFailed},
		{"Never: an init container runs", "Never", []runtime.ContainerStatus{exit(0), running}, StatePending},
		{"Always: an init container failed", "Always", []runtime.ContainerStatus{exit(1), waiting}, StatePending},
		{"OnFailure: an init container failed", "OnFailure", []runtime.ContainerStatus{exit(1)}, StatePending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &group{spec: groupBody("local", tc.policy, 1, 1, "x"), provisioning: ProvisioningSucceeded,
				status: runtime.GroupStatus{InitContainers: tc.inits, Containers: []runtime.ContainerStatus{waiting}}}
			if got := groupState(g); got != tc.want {
				t.Errorf("groupState = %s, want %s", got, tc.want)
			}
			if got, want := holdsCompute(g), !isTerminal(tc.want); got != want {
				t.Errorf("holdsCompute = %v, want %v", got, want)
			}
		})
	}
}
