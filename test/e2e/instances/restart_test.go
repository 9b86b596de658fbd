package instances

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/internal/wire"
)

// withClock runs the service and the fake runtime on a fake clock.
func withClock(clk *clocktesting.FakeClock) envOption {
	return func(_ *config.Config, o *fake.Options) { o.Clock = clk }
}

func newClock() *clocktesting.FakeClock {
	return clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
}

// operationStatus GETs an Azure-AsyncOperation URL.
func (e *env) operationStatus(asyncURL string) string {
	e.t.Helper()
	u, err := url.Parse(asyncURL)
	if err != nil {
		e.t.Fatal(err)
	}
	status, _, body := e.raw(http.MethodGet, u.RequestURI(), "", nil)
	if status != 200 {
		e.t.Fatalf("operation status: %d %s", status, body)
	}
	var op struct{ Status string }
	if err := json.Unmarshal(body, &op); err != nil {
		e.t.Fatal(err)
	}
	return op.Status
}

func TestRestartKeepsStateAndResumesOperations(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk), func(_ *config.Config, o *fake.Options) {
		o.RunDelay = time.Minute
	})
	if _, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "steady", group("img:1", 1, 1), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "steady to run", 30*time.Second, func() (bool, string) {
		clk.Step(time.Minute) // the runtime takes a minute to run a group
		st := state(e.get("steady"))
		return st == "Running", st
	})
	before := e.get("steady")

	var resp *http.Response
	poller, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, "slow", group("pulled:1", 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	asyncURL := resp.Header.Get("Azure-AsyncOperation")
	waitFor(t, "slow to be creating", 10*time.Second, func() (bool, string) {
		p := *e.get("slow").Properties.ProvisioningState
		return p == "Creating", p
	})

	e.restart()

	after := e.get("steady")
	if state(after) != "Running" || *after.Properties.IPAddress.IP != *before.Properties.IPAddress.IP {
		t.Errorf("steady after restart: state %s ip %v (was %s)", state(after), after.Properties.IPAddress.IP, *before.Properties.IPAddress.IP)
	}
	if got := e.operationStatus(asyncURL); got != "InProgress" {
		t.Fatalf("interrupted create after restart: %s", got)
	}
	// The resumed create runs again; advance the clock until it is done.
	waitFor(t, "the resumed create to succeed", 30*time.Second, func() (bool, string) {
		clk.Step(time.Minute)
		st := e.operationStatus(asyncURL)
		return st == "Succeeded", st
	})
	// The SDK poller started before the restart completes against the new process.
	res, err := poller.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if *res.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("resumed create: %s", *res.Properties.ProvisioningState)
	}
	e.waitState("slow", "Running")
	if n := len(mustList(t, e)); n != 2 {
		t.Errorf("%d groups after restart, want 2", n)
	}
}

func TestGroupsLostWhileDownAreMarked(t *testing.T) {
	clk := newClock()
	e := newEnv(t, withClock(clk))
	e.create("lost", group("img", 1, 1))
	e.waitState("lost", "Running")
	if err := e.inst.Close(); err != nil {
		t.Fatal(err)
	}
	// The runtime lost everything while the service was down.
	_ = e.rt.Close()
	e.rt = fake.New(fake.Options{Clock: clk})
	clk.Step(time.Hour)
	e.start()

	g := e.get("lost")
	if state(g) != "Failed" || *g.Properties.ProvisioningState != "Failed" {
		t.Fatalf("lost group: state %s provisioning %s", state(g), *g.Properties.ProvisioningState)
	}
	cs := g.Properties.Containers[0].Properties.InstanceView.CurrentState
	if *cs.State != "Terminated" || cs.DetailStatus == nil || *cs.DetailStatus != "Lost" {
		t.Errorf("lost container: %s %v", *cs.State, cs.DetailStatus)
	}
	// Its metering ended when the service last saw it, not an hour later.
	u := e.usage(t, "groupBy=name")
	if len(u.Value) != 1 || u.Value[0].Seconds > 10 {
		t.Fatalf("usage of the lost group: %+v", u.Value)
	}
	clk.Step(time.Hour)
	if again := e.usage(t, "groupBy=name"); again.Value[0].Seconds != u.Value[0].Seconds {
		t.Errorf("a lost group is still metered: %d then %d seconds", u.Value[0].Seconds, again.Value[0].Seconds)
	}
	// Starting it again deploys it anew.
	sp, err := e.groups.BeginStart(ctx(t), testRG, "lost", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	e.waitState("lost", "Running")
	// The new runtime's reports count from zero again: they must still
	// replace the state saved before the restart.
	waitFor(t, "the restarted container's state", 30*time.Second, func() (bool, string) {
		cs := e.get("lost").Properties.Containers[0].Properties.InstanceView.CurrentState
		return *cs.State == "Running", fmt.Sprintf("%s %v", *cs.State, cs.DetailStatus)
	})
}

// usage reads the metering extension.
func (e *env) usage(t *testing.T, query string) wire.MeteredUsage {
	t.Helper()
	status, _, body := e.raw(http.MethodGet, "/subscriptions/"+testSub+
		"/providers/Microsoft.ContainerInstance/meteredUsage?api-version=2023-05-01&"+query, "", nil)
	if status != 200 {
		t.Fatalf("metered usage: %d %s", status, body)
	}
	var u wire.MeteredUsage
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestMeteringPerSecond(t *testing.T) {
	clk := newClock()
	t0 := clk.Now()
	e := newEnv(t, withClock(clk))
	prices := e.cfg.Locations[0].Prices
	e.create("meter", group("img", 1, 1.5))
	e.waitState("meter", "Running")

	check := func(when string, wantSeconds int64) {
		t.Helper()
		u := e.usage(t, "groupBy=resourceGroup,location,name")
		if len(u.Value) != 1 {
			t.Fatalf("%s: %d usage rows", when, len(u.Value))
		}
		r := u.Value[0]
		wantCost := float64(wantSeconds)*1*prices.VCPUSecond + float64(wantSeconds)*1.5*prices.GBSecond
		if r.Seconds != wantSeconds || r.VCPUSeconds != float64(wantSeconds) || r.GBSeconds != 1.5*float64(wantSeconds) ||
			math.Abs(r.Cost-wantCost) > 1e-12 || r.Currency != "USD" || r.Name != "meter" || r.ResourceGroup != testRG {
			t.Errorf("%s: %+v, want %d s, %d vCPU-s, %g GB-s, cost %g", when, r, wantSeconds, wantSeconds, 1.5*float64(wantSeconds), wantCost)
		}
	}
	clk.Step(100 * time.Second)
	check("running 100 s", 100)

	if _, err := e.groups.Stop(ctx(t), testRG, "meter", nil); err != nil {
		t.Fatal(err)
	}
	clk.Step(50 * time.Second)
	check("stopped for 50 s", 100)
	e.restart()
	clk.Step(10 * time.Second)
	check("stopped, across a restart", 100)

	sp, err := e.groups.BeginStart(ctx(t), testRG, "meter", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	clk.Step(30 * time.Second)
	check("started again for 30 s", 130)

	// A restart of the service while the group runs neither loses nor
	// double-counts: the runtime kept it running all along.
	if err := e.inst.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Step(20 * time.Second)
	e.start()
	check("running across a restart", 150)

	window := fmt.Sprintf("groupBy=name&from=%s&to=%s", url.QueryEscape(t0.Add(50*time.Second).UTC().Format(time.RFC3339)),
		url.QueryEscape(t0.Add(120*time.Second).UTC().Format(time.RFC3339)))
	if w := e.usage(t, window); len(w.Value) != 1 || w.Value[0].Seconds != 50 {
		t.Errorf("window 50 s..120 s: %+v, want 50 s (running 50..100, stopped after)", w.Value)
	}

	dp, err := e.groups.BeginDelete(ctx(t), testRG, "meter", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Hour)
	check("an hour after the delete", 150)

	// Prometheus exposes the same counters.
	status, _, body := e.raw(http.MethodGet, "/metrics", "", nil)
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	want := fmt.Sprintf(`vnode_instances_vcpu_seconds_total{location="local",resource_group="rg1",subscription="%s"} 150`, testSub)
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q", want)
	}
	if status, _, _ := e.raw(http.MethodGet, "/metrics", "-", nil); status != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d", status)
	}
}
