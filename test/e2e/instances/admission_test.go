package instances

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
)

// admOtherSub is a second subscription with its own quotas and budgets.
const admOtherSub = "00000000-0000-0000-0000-0000000beef0"

// admClients are SDK clients acting for one subscription.
type admClients struct {
	groups *aci.ContainerGroupsClient
	loc    *aci.LocationClient
}

// admFor returns clients for another subscription of the env's service.
func (e *env) admFor(sub string) admClients {
	e.t.Helper()
	files := e.files
	files.Subscription = sub
	f, err := files.ClientFactory(-1)
	if err != nil {
		e.t.Fatal(err)
	}
	return admClients{groups: f.NewContainerGroupsClient(), loc: f.NewLocationClient()}
}

func (e *env) admSelf() admClients { return admClients{groups: e.groups, loc: e.loc} }

var admPoll = &azruntime.PollUntilDoneOptions{Frequency: 50 * time.Millisecond}

// admCreate creates a group with c and waits for the operation.
func admCreate(t *testing.T, c admClients, name string, body aci.ContainerGroup) {
	t.Helper()
	p, err := c.groups.BeginCreateOrUpdate(ctx(t), testRG, name, body, nil)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatalf("create %s: poll: %v", name, err)
	}
}

// admRefused PUTs a group that must be refused and returns the refusal.
func admRefused(t *testing.T, c admClients, name string, body aci.ContainerGroup) armError {
	t.Helper()
	_, err := c.groups.BeginCreateOrUpdate(ctx(t), testRG, name, body, nil)
	if err == nil {
		t.Fatalf("create %s was accepted", name)
	}
	return asARM(t, err)
}

// admDelete deletes a group and waits until it is gone.
func admDelete(t *testing.T, c admClients, name string) {
	t.Helper()
	p, err := c.groups.BeginDelete(ctx(t), testRG, name, nil)
	if err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
	if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatalf("delete %s: poll: %v", name, err)
	}
}

// admUsage returns currentValue and limit by usage name.
func admUsage(t *testing.T, c admClients, location string) map[string][2]int32 {
	t.Helper()
	out := map[string][2]int32{}
	pager := c.loc.NewListUsagePager(location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatalf("usages of %s: %v", location, err)
		}
		for _, u := range page.Value {
			if u.Unit == nil || *u.Unit != "Count" {
				t.Errorf("usage %s has unit %v", *u.Name.Value, u.Unit)
			}
			out[*u.Name.Value] = [2]int32{*u.CurrentValue, *u.Limit}
		}
	}
	return out
}

// admWantUsage checks the ContainerGroups and StandardCores usages.
func admWantUsage(t *testing.T, c admClients, location string, groups, groupLimit, cores, coreLimit int32) {
	t.Helper()
	u := admUsage(t, c, location)
	if got := u["ContainerGroups"]; got != [2]int32{groups, groupLimit} {
		t.Errorf("ContainerGroups usage in %s: %d of %d, want %d of %d", location, got[0], got[1], groups, groupLimit)
	}
	if got := u["StandardCores"]; got != [2]int32{cores, coreLimit} {
		t.Errorf("StandardCores usage in %s: %d of %d, want %d of %d", location, got[0], got[1], cores, coreLimit)
	}
}

func admWantGone(t *testing.T, c admClients, name string) {
	t.Helper()
	_, err := c.groups.Get(ctx(t), testRG, name, nil)
	if ae := asARM(t, err); ae.Status != 404 {
		t.Errorf("GET %s: %d %s, want 404", name, ae.Status, ae.Code)
	}
}

func TestAdmissionContainerGroupQuota(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Quota.ContainerGroups = 2 })
	self := e.admSelf()
	e.create("q1", group("img", 1, 1))
	e.create("q2", group("img", 1, 1))

	ae := admRefused(t, self, "q3", group("img", 1, 1))
	if ae.Status != 409 || ae.Code != "ContainerGroupQuotaReached" {
		t.Errorf("third group: %d %s, want 409 ContainerGroupQuotaReached", ae.Status, ae.Code)
	}
	for _, want := range []string{"'ContainerGroups'", "'local'", "Limit: '2', Usage: '2' Requested: '1'"} {
		if !contains(ae.Message, want) {
			t.Errorf("quota message %q lacks %q", ae.Message, want)
		}
	}
	admWantGone(t, self, "q3")
	// The quota is the subscription's, over its resource groups.
	if _, err := e.groups.BeginCreateOrUpdate(ctx(t), "rg-other", "q3", group("img", 1, 1), nil); err == nil {
		t.Error("a group in another resource group escaped the subscription's quota")
	} else if ae := asARM(t, err); ae.Code != "ContainerGroupQuotaReached" {
		t.Errorf("other resource group: %d %s", ae.Status, ae.Code)
	}
	// Updating a group at the quota is not a new group.
	up := group("img:2", 1, 1)
	p, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "q1", up, nil)
	if err != nil {
		t.Fatalf("update at the quota: %v", err)
	}
	if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatal(err)
	}

	// Quotas are per subscription...
	other := e.admFor(admOtherSub)
	admCreate(t, other, "q3", group("img", 1, 1))
	// ...and per location.
	elsewhere := group("img", 1, 1)
	elsewhere.Location = to.Ptr("second")
	e.create("q4", elsewhere)

	admWantUsage(t, self, testLoc, 2, 2, 2, 100)
	admWantUsage(t, self, "second", 1, 100, 1, 100)
	admWantUsage(t, other, testLoc, 1, 2, 1, 100)
	admWantUsage(t, other, "second", 0, 100, 0, 100)

	// Deleting a group makes room.
	admDelete(t, self, "q2")
	admWantUsage(t, self, testLoc, 1, 2, 1, 100)
	e.create("q5", group("img", 1, 1))
	admWantUsage(t, self, testLoc, 2, 2, 2, 100)
}

func TestAdmissionCoreQuota(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) {
		c.Locations[0].Quota = config.Quota{StandardCores: 3, ContainerGroups: 2}
	})
	self := e.admSelf()
	e.create("a", group("img", 2, 2))
	e.waitState("a", "Running")
	admWantUsage(t, self, testLoc, 1, 2, 2, 3)

	ae := admRefused(t, self, "b", group("img", 2, 2))
	if ae.Status != 409 || ae.Code != "ContainerGroupQuotaReached" {
		t.Errorf("second 2-CPU group: %d %s", ae.Status, ae.Code)
	}
	for _, want := range []string{"'StandardCores'", "Limit: '3', Usage: '2' Requested: '2'"} {
		if !contains(ae.Message, want) {
			t.Errorf("quota message %q lacks %q", ae.Message, want)
		}
	}
	admWantGone(t, self, "b")

	// Stopping releases the cores but not the group.
	if _, err := e.groups.Stop(ctx(t), testRG, "a", nil); err != nil {
		t.Fatal(err)
	}
	admWantUsage(t, self, testLoc, 1, 2, 0, 3)
	e.create("b", group("img", 2, 2))
	admWantUsage(t, self, testLoc, 2, 2, 2, 3)
	ae = admRefused(t, self, "c", group("img", 1, 1))
	if ae.Code != "ContainerGroupQuotaReached" || !contains(ae.Message, "'ContainerGroups'") ||
		!contains(ae.Message, "Limit: '2', Usage: '2' Requested: '1'") {
		t.Errorf("third group while one is stopped: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
	// Starting (or re-PUTting) the stopped group needs its cores again.
	_, err := e.groups.BeginStart(ctx(t), testRG, "a", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "ContainerGroupQuotaReached" || !contains(ae.Message, "'StandardCores'") {
		t.Errorf("start beyond the core quota: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
	ae = admRefused(t, self, "a", group("img", 2, 2))
	if ae.Status != 409 || ae.Code != "ContainerGroupQuotaReached" || !contains(ae.Message, "'StandardCores'") {
		t.Errorf("redeploying PUT beyond the core quota: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
	if g := e.get("a"); state(g) != "Stopped" {
		t.Errorf("refused start left a in state %s", state(g))
	}

	// Deleting releases the group (the stopped one held no cores)...
	admDelete(t, self, "a")
	admWantUsage(t, self, testLoc, 1, 2, 2, 3)
	e.create("c", group("img", 1, 1))
	admWantUsage(t, self, testLoc, 2, 2, 3, 3)
	// ...and the cores of a running one.
	admDelete(t, self, "b")
	admWantUsage(t, self, testLoc, 1, 2, 1, 3)
	e.create("d", group("img", 2, 2))
	admWantUsage(t, self, testLoc, 2, 2, 3, 3)
}

func TestAdmissionCapacity(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Capacity = config.Capacity{CPU: 2} })
	self, other := e.admSelf(), e.admFor(admOtherSub)
	e.create("big", group("img", 2, 2))

	ae := admRefused(t, other, "big", group("img", 2, 2))
	if ae.Status != 409 || ae.Code != "ServiceUnavailable" {
		t.Errorf("beyond capacity: %d %s", ae.Status, ae.Code)
	}
	for _, want := range []string{"'local'", "Resource requested: '2' CPU '2' GB memory 'Linux' OS"} {
		if !contains(ae.Message, want) {
			t.Errorf("capacity message %q lacks %q", ae.Message, want)
		}
	}
	admWantGone(t, other, "big")
	ae = admRefused(t, self, "small", group("img", 1, 1.5))
	if ae.Code != "ServiceUnavailable" || !contains(ae.Message, "Resource requested: '1' CPU '1.5' GB memory") {
		t.Errorf("beyond capacity, same subscription: %d %s %s", ae.Status, ae.Code, ae.Message)
	}
	// The capacity is the location's: another location has room.
	elsewhere := group("img", 2, 2)
	elsewhere.Location = to.Ptr("second")
	admCreate(t, other, "big-second", elsewhere)
	// A stopped group frees its compute.
	if _, err := e.groups.Stop(ctx(t), testRG, "big", nil); err != nil {
		t.Fatal(err)
	}
	admCreate(t, other, "big", group("img", 2, 2))
	_, err := e.groups.BeginStart(ctx(t), testRG, "big", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "ServiceUnavailable" {
		t.Errorf("start beyond capacity: %d %s", ae.Status, ae.Code)
	}
	// Capacity is not quota: the usages are per subscription.
	admWantUsage(t, self, testLoc, 1, 100, 0, 100)
	admWantUsage(t, other, testLoc, 1, 100, 2, 100)
}

func TestAdmissionLocationEndpoints(t *testing.T) {
	cached := []string{"mcr.microsoft.com/azuredocs/aci-helloworld:latest", "registry.local/base:2"}
	e := newEnv(t, func(c *config.Config, o *fake.Options) {
		c.Locations[0].Capabilities = config.Capabilities{MaxCPU: 3, MaxMemoryInGB: 12}
		c.Locations[0].Quota = config.Quota{StandardCores: 7, ContainerGroups: 5}
		o.CachedImages = cached
	})
	self := e.admSelf()

	caps := func(location string) []*aci.Capabilities {
		var out []*aci.Capabilities
		pager := e.loc.NewListCapabilitiesPager(location, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx(t))
			if err != nil {
				t.Fatalf("capabilities of %s: %v", location, err)
			}
			out = append(out, page.Value...)
		}
		return out
	}
	for _, tc := range []struct {
		loc      string
		cpu, mem float32
	}{{testLoc, 3, 12}, {"second", 4, 16}} {
		cs := caps(tc.loc)
		if len(cs) == 0 {
			t.Fatalf("no capabilities for %s", tc.loc)
		}
		for _, c := range cs {
			if *c.ResourceType != "containerGroups" || *c.OSType != "Linux" || *c.Location != tc.loc ||
				*c.Capabilities.MaxCPU != tc.cpu || *c.Capabilities.MaxMemoryInGB != tc.mem {
				t.Errorf("capability in %s: type %s os %s location %s maxCpu %v maxMemoryInGB %v, want %v/%v",
					tc.loc, *c.ResourceType, *c.OSType, *c.Location, *c.Capabilities.MaxCPU, *c.Capabilities.MaxMemoryInGB, tc.cpu, tc.mem)
			}
		}
	}
	// The advertised maximum is the enforced one.
	if ae := admRefused(t, self, "four", group("img", 4, 4)); ae.Code != "ContainerGroupResourceRequestExceedsCapabilities" {
		t.Errorf("4 CPU where 3 are advertised: %d %s", ae.Status, ae.Code)
	}
	e.create("three", group("img", 3, 12))

	for _, what := range []string{"capabilities", "usages", "cached images"} {
		var err error
		switch what {
		case "capabilities":
			_, err = e.loc.NewListCapabilitiesPager("atlantis", nil).NextPage(ctx(t))
		case "usages":
			_, err = e.loc.NewListUsagePager("atlantis", nil).NextPage(ctx(t))
		default:
			_, err = e.loc.NewListCachedImagesPager("atlantis", nil).NextPage(ctx(t))
		}
		if err == nil {
			t.Errorf("%s of an unknown location answered", what)
			continue
		}
		if ae := asARM(t, err); ae.Status != 404 || ae.Code != "LocationNotAvailableForResourceType" {
			t.Errorf("%s of an unknown location: %d %s", what, ae.Status, ae.Code)
		}
	}

	admWantUsage(t, self, testLoc, 1, 5, 3, 7)
	admWantUsage(t, self, "second", 0, 100, 0, 100)

	var images []string
	pager := e.loc.NewListCachedImagesPager(testLoc, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range page.Value {
			if *img.OSType != "Linux" {
				t.Errorf("cached image %s has os %s", *img.Image, *img.OSType)
			}
			images = append(images, *img.Image)
		}
	}
	sort.Strings(images)
	if strings.Join(images, " ") != strings.Join(cached, " ") {
		t.Errorf("cached images %v, want %v", images, cached)
	}

	var names []string
	opPager := e.ops.NewListPager(nil)
	for opPager.More() {
		page, err := opPager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range page.Value {
			if op.Name == nil || !strings.HasPrefix(*op.Name, "Microsoft.ContainerInstance/") || op.Display == nil {
				t.Errorf("operation %+v", op)
				continue
			}
			names = append(names, *op.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no operations listed")
	}
	for _, want := range []string{"Microsoft.ContainerInstance/containerGroups/write", "Microsoft.ContainerInstance/containerGroups/delete"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("operations %v lack %s", names, want)
		}
	}
}

// admRetryAfter parses a Retry-After header in seconds.
func admRetryAfter(t *testing.T, h http.Header) int {
	t.Helper()
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n <= 0 {
		t.Errorf("Retry-After %q, want a positive number of seconds", h.Get("Retry-After"))
	}
	return n
}

const (
	admRemaining5m    = "x-ms-ratelimit-remaining-subscription-resource-requests-pt5m"
	admRemaining1h    = "x-ms-ratelimit-remaining-subscription-resource-requests-pt1h"
	admRemainingReads = "x-ms-ratelimit-remaining-subscription-reads"
)

func TestAdmissionThrottlesCreatesAndDeletes(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) {
		c.RateLimits = config.RateLimits{CreatesPer5m: 2, CreatesPer1h: 10, DeletesPer5m: 1}
	})
	self, other := e.admSelf(), e.admFor(admOtherSub)
	for i, name := range []string{"t1", "t2"} {
		var resp *http.Response
		p, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, name, group("img", 1, 1), nil)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		if resp.StatusCode != 201 {
			t.Errorf("create %s: %d", name, resp.StatusCode)
		}
		if got, want := resp.Header.Get(admRemaining5m), strconv.Itoa(1-i); got != want {
			t.Errorf("create %s: %s %q, want %q", name, admRemaining5m, got, want)
		}
		if got, want := resp.Header.Get(admRemaining1h), strconv.Itoa(9-i); got != want {
			t.Errorf("create %s: %s %q, want %q", name, admRemaining1h, got, want)
		}
		if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
			t.Fatal(err)
		}
	}
	ae := admRefused(t, self, "t3", group("img", 1, 1))
	if ae.Status != 429 || ae.Code != "ResourceRequestsThrottled" {
		t.Errorf("third create: %d %s, want 429 ResourceRequestsThrottled", ae.Status, ae.Code)
	}
	if wait := admRetryAfter(t, ae.Header); wait > 300 {
		t.Errorf("Retry-After %d s exceeds the 5 minute window", wait)
	}
	if got := ae.Header.Get(admRemaining5m); got != "0" {
		t.Errorf("refused create: %s %q, want 0", admRemaining5m, got)
	}
	if !contains(ae.Message, "00:05:00") {
		t.Errorf("throttling message %q does not name the interval", ae.Message)
	}
	admWantGone(t, self, "t3")

	// Another subscription has its own budget.
	var resp *http.Response
	p, err := other.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, "t3", group("img", 1, 1), nil)
	if err != nil {
		t.Fatalf("create in another subscription: %v", err)
	}
	if got := resp.Header.Get(admRemaining5m); got != "1" {
		t.Errorf("other subscription: %s %q, want 1", admRemaining5m, got)
	}
	if _, err := p.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatal(err)
	}

	// Deletes have their own budget: the exhausted create budget does not
	// stop the first delete, and the second delete is throttled.
	dp, err := e.groups.BeginDelete(policy.WithCaptureResponse(ctx(t), &resp), testRG, "t1", nil)
	if err != nil {
		t.Fatalf("first delete: %v", err)
	}
	if resp.StatusCode != 202 {
		t.Errorf("first delete: %d", resp.StatusCode)
	}
	if got := resp.Header.Get(admRemaining5m); got != "0" {
		t.Errorf("first delete: %s %q, want 0", admRemaining5m, got)
	}
	if _, err := dp.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatal(err)
	}
	_, err = e.groups.BeginDelete(ctx(t), testRG, "t2", nil)
	if err == nil {
		t.Fatal("second delete was accepted")
	}
	ae = asARM(t, err)
	if ae.Status != 429 || ae.Code != "ResourceRequestsThrottled" {
		t.Errorf("second delete: %d %s", ae.Status, ae.Code)
	}
	admRetryAfter(t, ae.Header)
	if g := e.get("t2"); *g.Properties.ProvisioningState != "Succeeded" {
		t.Errorf("throttled delete touched t2: %s", *g.Properties.ProvisioningState)
	}
	// Deleting of a group that does not exist costs nothing.
	if _, err := e.groups.BeginDelete(ctx(t), testRG, "never-was", nil); err != nil {
		t.Errorf("delete of a missing group while throttled: %v", err)
	}
	// Deleting does not give back create budget.
	if ae := admRefused(t, self, "t4", group("img", 1, 1)); ae.Status != 429 {
		t.Errorf("create after a delete: %d %s", ae.Status, ae.Code)
	}
}

func TestAdmissionThrottlesReads(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := newEnv(t, func(c *config.Config, o *fake.Options) {
		c.RateLimits = config.RateLimits{ReadsPerSecond: 1, ReadBurst: 2}
		o.Clock = clk
	})
	other := e.admFor(admOtherSub)
	data, err := json.Marshal(group("img", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	q := "?api-version=" + valAPIVersion
	// Writes do not spend the read budget.
	if status, _, body := e.raw(http.MethodPut, groupPath("r")+q, "", bytes.NewReader(data)); status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	for i := 0; i < 2; i++ {
		status, h, body := e.raw(http.MethodGet, groupPath("r")+q, "", nil)
		if status != 200 {
			t.Fatalf("read %d: %d %s", i+1, status, body)
		}
		if got, want := h.Get(admRemainingReads), strconv.Itoa(1-i); got != want {
			t.Errorf("read %d: %s %q, want %q", i+1, admRemainingReads, got, want)
		}
	}
	_, err = e.groups.Get(ctx(t), testRG, "r", nil)
	if err == nil {
		t.Fatal("third read within the burst was answered")
	}
	ae := asARM(t, err)
	if ae.Status != 429 || ae.Code != "SubscriptionRequestsThrottled" {
		t.Errorf("third read: %d %s", ae.Status, ae.Code)
	}
	if got := admRetryAfter(t, ae.Header); got != 1 {
		t.Errorf("Retry-After %d, want 1 (one read per second)", got)
	}
	// Lists are reads too.
	if _, err := e.groups.NewListPager(nil).NextPage(ctx(t)); err == nil {
		t.Error("list while throttled was answered")
	} else if ae := asARM(t, err); ae.Status != 429 {
		t.Errorf("list while throttled: %d %s", ae.Status, ae.Code)
	}
	// Other subscriptions and writes are unaffected.
	_, err = other.groups.Get(ctx(t), testRG, "r", nil)
	if ae := asARM(t, err); ae.Status != 404 {
		t.Errorf("read in another subscription: %d %s, want 404", ae.Status, ae.Code)
	}
	if status, _, body := e.raw(http.MethodPut, groupPath("r2")+q, "", bytes.NewReader(data)); status != 201 {
		t.Errorf("PUT while reads are throttled: %d %s", status, body)
	}
	// A second later one more read fits, and only one.
	clk.Step(time.Second)
	if _, err := e.groups.Get(ctx(t), testRG, "r", nil); err != nil {
		t.Errorf("read after a second: %v", err)
	}
	if _, err := e.groups.Get(ctx(t), testRG, "r", nil); err == nil {
		t.Error("a second read after one second was answered")
	} else if ae := asARM(t, err); ae.Status != 429 {
		t.Errorf("second read after a second: %d %s", ae.Status, ae.Code)
	}
}

// admOpStatus GETs an Azure-AsyncOperation URL and returns its status and error code.
func (e *env) admOpStatus(asyncURL string) (status, code string) {
	e.t.Helper()
	u, err := url.Parse(asyncURL)
	if err != nil {
		e.t.Fatal(err)
	}
	st, _, body := e.raw(http.MethodGet, u.RequestURI(), "", nil)
	if st != 200 {
		e.t.Fatalf("operation %s: %d %s", asyncURL, st, body)
	}
	var op struct {
		Status string
		Error  *struct{ Code string }
	}
	if err := json.Unmarshal(body, &op); err != nil {
		e.t.Fatal(err)
	}
	if op.Error != nil {
		code = op.Error.Code
	}
	return op.Status, code
}

// admInFlight starts a create that stays in the runtime's Run until the
// clock advances by an hour, and waits until it is there.
func admInFlight(t *testing.T, e *env, name string) string {
	t.Helper()
	var resp *http.Response
	_, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, name, group("img", 1, 1), nil)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	if resp.StatusCode != 201 {
		t.Fatalf("create %s: %d", name, resp.StatusCode)
	}
	asyncURL := resp.Header.Get("Azure-AsyncOperation")
	waitFor(t, name+" creating", 30*time.Second, func() (bool, string) {
		p := *e.get(name).Properties.ProvisioningState
		return p == "Creating", p
	})
	return asyncURL
}

func TestAdmissionConflictsWithOperationInFlight(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := newEnv(t, func(_ *config.Config, o *fake.Options) {
		o.Clock = clk
		o.PullDelay = time.Hour
		o.RunDelay = time.Hour
	})
	asyncURL := admInFlight(t, e, "busy")
	if st, _ := e.admOpStatus(asyncURL); st != "InProgress" {
		t.Fatalf("create operation: %s", st)
	}

	changed := group("img:2", 1, 1)
	_, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "busy", changed, nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "AnotherOperationInProgress" {
		t.Errorf("PUT during the create: %d %s", ae.Status, ae.Code)
	}
	_, err = e.groups.BeginStart(ctx(t), testRG, "busy", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "AnotherOperationInProgress" {
		t.Errorf("start during the create: %d %s", ae.Status, ae.Code)
	}
	_, err = e.groups.Stop(ctx(t), testRG, "busy", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "AnotherOperationInProgress" {
		t.Errorf("stop during the create: %d %s", ae.Status, ae.Code)
	}
	_, err = e.groups.BeginRestart(ctx(t), testRG, "busy", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "AnotherOperationInProgress" {
		t.Errorf("restart during the create: %d %s", ae.Status, ae.Code)
	}
	g := e.get("busy")
	if *g.Properties.ProvisioningState != "Creating" || *g.Properties.Containers[0].Properties.Image != "img" {
		t.Errorf("refused requests changed the group: %s %s", *g.Properties.ProvisioningState,
			*g.Properties.Containers[0].Properties.Image)
	}

	// A delete cancels the create.
	var resp *http.Response
	dp, err := e.groups.BeginDelete(policy.WithCaptureResponse(ctx(t), &resp), testRG, "busy", nil)
	if err != nil {
		t.Fatalf("delete during the create: %v", err)
	}
	if resp.StatusCode != 202 {
		t.Errorf("delete during the create: %d, want 202", resp.StatusCode)
	}
	if _, err := dp.PollUntilDone(ctx(t), admPoll); err != nil {
		t.Fatalf("delete: %v", err)
	}
	admWantGone(t, e.admSelf(), "busy")
	if st, code := e.admOpStatus(asyncURL); st != "Canceled" || code == "" {
		t.Errorf("create operation after the delete: %s %s, want Canceled", st, code)
	}
	// Nothing comes back when the runtime's wait would have ended.
	clk.Step(2 * time.Hour)
	if groups, err := e.rt.List(ctx(t)); err != nil || len(groups) != 0 || e.rt.Runs() != 0 {
		t.Errorf("runtime after the canceled create: %d groups, %d runs, %v", len(groups), e.rt.Runs(), err)
	}
	admWantGone(t, e.admSelf(), "busy")

	// A create that finishes frees the group for other requests.
	asyncURL = admInFlight(t, e, "later")
	waitFor(t, "the create to finish", 30*time.Second, func() (bool, string) {
		clk.Step(time.Hour)
		st, _ := e.admOpStatus(asyncURL)
		return st == "Succeeded", st
	})
	waitFor(t, "later running", 30*time.Second, func() (bool, string) {
		clk.Step(time.Hour)
		st := state(e.get("later"))
		return st == "Running", st
	})
	if _, err := e.groups.Stop(ctx(t), testRG, "later", nil); err != nil {
		t.Errorf("stop after the create: %v", err)
	}
}

// admPut sends a PUT from any goroutine and returns status and error code.
func (e *env) admPut(name string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPut, e.inst.URL+groupPath(name)+"?api-version="+valAPIVersion, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("x-ms-error-code"), nil
}

// admOutcome is what the PUTs of one name got.
type admOutcome struct {
	created, ok int
	other       []string
}

// admPutAll has workers PUT every name (each in its own order) at once.
func admPutAll(t *testing.T, e *env, workers int, names []string) map[string]*admOutcome {
	t.Helper()
	body, err := json.Marshal(group("img", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := map[string]*admOutcome{}
	for _, n := range names {
		out[n] = &admOutcome{}
	}
	var errs []error
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range names {
				name := names[(i+w)%len(names)]
				status, code, err := e.admPut(name, body)
				mu.Lock()
				o := out[name]
				switch {
				case err != nil:
					errs = append(errs, err)
				case status == 201:
					o.created++
				case status == 200:
					o.ok++
				case status == 409 && code == "AnotherOperationInProgress":
				default:
					o.other = append(o.other, fmt.Sprintf("%d %s", status, code))
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("PUT: %v", err)
	}
	return out
}

func TestAdmissionConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	var names []string
	for i := 0; i < 16; i++ {
		names = append(names, fmt.Sprintf("cc-%02d", i))
	}
	out := admPutAll(t, e, 8, names)
	for _, n := range names {
		if o := out[n]; o.created != 1 || len(o.other) > 0 {
			t.Errorf("%s: %d creates, %d updates, unexpected %v", n, o.created, o.ok, o.other)
		}
	}
	for _, n := range names {
		e.waitState(n, "Running")
	}
	listed := map[string]int{}
	for _, g := range mustList(t, e) {
		listed[*g.Name]++
	}
	if len(listed) != len(names) {
		t.Errorf("%d groups listed, want %d: %v", len(listed), len(names), listed)
	}
	for n, c := range listed {
		if c != 1 {
			t.Errorf("%s listed %d times", n, c)
		}
	}
	if n := e.rt.Runs(); n != len(names) {
		t.Errorf("the runtime deployed %d groups, want %d", n, len(names))
	}
	admWantUsage(t, e.admSelf(), testLoc, int32(len(names)), 100, int32(len(names)), 100)
}

func TestAdmissionConcurrentSameName(t *testing.T) {
	e := newEnv(t)
	out := admPutAll(t, e, 8, []string{"same"})["same"]
	t.Logf("8 PUTs of one new group: %d created, %d unchanged, %d conflicts", out.created, out.ok, 8-out.created-out.ok-len(out.other))
	if out.created != 1 || len(out.other) > 0 {
		t.Errorf("8 PUTs of one new group: %d created, %d updated, unexpected %v", out.created, out.ok, out.other)
	}
	e.waitState("same", "Running")
	if n := len(mustList(t, e)); n != 1 {
		t.Errorf("%d groups, want 1", n)
	}
	if n := e.rt.Runs(); n != 1 {
		t.Errorf("the runtime deployed %d times, want 1", n)
	}
}

func TestAdmissionQuotaIgnoresSubscriptionCase(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Quota.ContainerGroups = 1 })
	e.create("one", group("img", 1, 1))
	upper := e.admFor(strings.ToUpper(testSub))
	if ae := admRefused(t, upper, "two", group("img", 1, 1)); ae.Status != 409 || ae.Code != "ContainerGroupQuotaReached" {
		t.Errorf("create with the subscription id in upper case: %d %s", ae.Status, ae.Code)
	}
	admWantUsage(t, upper, testLoc, 1, 1, 1, 100)
}

func TestAdmissionThrottleIgnoresSubscriptionCase(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) {
		c.RateLimits = config.RateLimits{CreatesPer5m: 1, ReadsPerSecond: 0.001, ReadBurst: 1}
	})
	data, err := json.Marshal(group("img", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	q := "?api-version=" + valAPIVersion
	if status, _, body := e.raw(http.MethodPut, groupPath("one")+q, "", bytes.NewReader(data)); status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	if status, _, body := e.raw(http.MethodGet, groupPath("one")+q, "", nil); status != 200 {
		t.Fatalf("GET: %d %s", status, body)
	}
	// The same subscription, its id written in upper case, has no fresh budget.
	upper := strings.Replace(groupPath("two"), testSub, strings.ToUpper(testSub), 1)
	if status, h, _ := e.raw(http.MethodPut, upper+q, "", bytes.NewReader(data)); status != 429 {
		t.Errorf("create with the subscription id in upper case: %d %s, want 429", status, h.Get("x-ms-error-code"))
	}
	upper = strings.Replace(groupPath("one"), testSub, strings.ToUpper(testSub), 1)
	if status, h, _ := e.raw(http.MethodGet, upper+q, "", nil); status != 429 {
		t.Errorf("read with the subscription id in upper case: %d %s, want 429", status, h.Get("x-ms-error-code"))
	}
}

// admPutEach PUTs each name from its own goroutine, all at once, and
// returns "status code" per name.
func admPutEach(t *testing.T, e *env, names []string) map[string]string {
	t.Helper()
	body, err := json.Marshal(group("img", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := map[string]string{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, code, err := e.admPut(n, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out[n] = err.Error()
				return
			}
			out[n] = strings.TrimSpace(fmt.Sprintf("%d %s", status, code))
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func admCount(outcomes map[string]string) map[string]int {
	n := map[string]int{}
	for _, o := range outcomes {
		n[o]++
	}
	return n
}

func TestAdmissionConcurrentCreatesRespectLimits(t *testing.T) {
	names := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"}
	t.Run("quota", func(t *testing.T) {
		e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Quota.ContainerGroups = 5 })
		got := admCount(admPutEach(t, e, names))
		if got["201"] != 5 || got["409 ContainerGroupQuotaReached"] != 3 || len(got) != 2 {
			t.Errorf("8 concurrent creates under a quota of 5: %v", got)
		}
		if n := len(mustList(t, e)); n != 5 {
			t.Errorf("%d groups, want 5", n)
		}
	})
	t.Run("cores", func(t *testing.T) {
		e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Quota.StandardCores = 3 })
		got := admCount(admPutEach(t, e, names))
		if got["201"] != 3 || got["409 ContainerGroupQuotaReached"] != 5 || len(got) != 2 {
			t.Errorf("8 concurrent 1-CPU creates under 3 cores: %v", got)
		}
	})
	t.Run("capacity", func(t *testing.T) {
		e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.Locations[0].Capacity.CPU = 4 })
		got := admCount(admPutEach(t, e, names))
		if got["201"] != 4 || got["409 ServiceUnavailable"] != 4 || len(got) != 2 {
			t.Errorf("8 concurrent 1-CPU creates with a capacity of 4: %v", got)
		}
	})
	t.Run("throttle", func(t *testing.T) {
		e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.RateLimits.CreatesPer5m = 3 })
		got := admCount(admPutEach(t, e, names))
		if got["201"] != 3 || got["429 ResourceRequestsThrottled"] != 5 || len(got) != 2 {
			t.Errorf("8 concurrent creates with a budget of 3: %v", got)
		}
	})
}
