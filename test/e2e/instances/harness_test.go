// Package instances tests the container instances service end to end over
// HTTPS with the official Azure SDK client (armcontainerinstance/v2), on the
// in-process fake runtime; the containerd runtime has its own suite.
package instances

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/client"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
)

const (
	testToken = "test-token-4d1f0b7a"
	testSub   = "00000000-0000-0000-0000-00000000cafe"
	testRG    = "rg1"
	testLoc   = "local"
	// otherTenantToken may use otherTenantSub only.
	otherTenantToken = "other-tenant-token-77e2"
	otherTenantSub   = "00000000-0000-0000-0000-0000000e7e2a"
)

// env is one service under test and its clients.
type env struct {
	t       *testing.T
	cfg     config.Config
	rt      *fake.Runtime
	clk     clock.WithTicker
	inst    *app.Instance
	files   client.Files
	groups  *aci.ContainerGroupsClient
	ctrs    *aci.ContainersClient
	loc     *aci.LocationClient
	ops     *aci.OperationsClient
	http    *http.Client
	retries int32
}

type envOption func(*config.Config, *fake.Options)

// newEnv starts a service on a fresh data directory. The SDK clients do not
// retry, so throttling answers are observable.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# test tokens\n"+testToken+" "+testSub+" "+admOtherSub+"\n"+
		otherTenantToken+" "+otherTenantSub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Runtime = "fake"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = tokens
	cfg.RateLimits = config.RateLimits{}
	loc := config.DefaultLocationSpec(testLoc)
	cfg.Locations = []config.Location{loc, config.DefaultLocationSpec("second")}
	fo := fake.Options{}
	for _, o := range opts {
		o(&cfg, &fo)
	}
	if err := cfg.Complete(dir); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, clk: fo.Clock, retries: -1}
	if e.clk == nil {
		e.clk = clock.RealClock{}
	}
	if cfg.Runtime == "fake" {
		// One fake runtime outlives service restarts, as containerd does.
		e.rt = fake.New(fo)
		t.Cleanup(func() { _ = e.rt.Close() })
	}
	e.start()
	return e
}

// start (re)starts the service on the env's data directory and runtime.
func (e *env) start() {
	e.t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	o := app.Options{Logger: log, Clock: e.clk}
	if e.rt != nil {
		o.Runtime = e.rt
	}
	inst, err := app.Start(context.Background(), e.cfg, o)
	if err != nil {
		e.t.Fatalf("start service: %v", err)
	}
	e.inst = inst
	// Restarts listen on the same address, so clients and pollers carry on.
	e.cfg.Listen = strings.TrimPrefix(inst.URL, "https://")
	e.t.Cleanup(func() { _ = inst.Close() })
	e.files = client.Files{Endpoint: inst.URL, Token: testToken, CAFile: inst.CAFile, Subscription: testSub,
		ResourceGroup: testRG, Location: testLoc}
	f, err := e.files.ClientFactory(e.retries)
	if err != nil {
		e.t.Fatal(err)
	}
	e.groups, e.ctrs, e.loc, e.ops = f.NewContainerGroupsClient(), f.NewContainersClient(), f.NewLocationClient(), f.NewOperationsClient()
	if e.http, err = e.files.HTTPClient(); err != nil {
		e.t.Fatal(err)
	}
}

// restart stops the service and starts it again on the same state and runtime.
func (e *env) restart() {
	e.t.Helper()
	if err := e.inst.Close(); err != nil {
		e.t.Fatalf("stop service: %v", err)
	}
	e.start()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// group returns a valid one-container group body.
func group(image string, cpu, mem float64) aci.ContainerGroup {
	return aci.ContainerGroup{
		Location: to.Ptr(testLoc),
		Tags:     map[string]*string{"app": to.Ptr("demo")},
		Properties: &aci.ContainerGroupPropertiesProperties{
			OSType: to.Ptr(aci.OperatingSystemTypesLinux),
			Containers: []*aci.Container{{
				Name: to.Ptr("main"),
				Properties: &aci.ContainerProperties{
					Image:     to.Ptr(image),
					Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(cpu), MemoryInGB: to.Ptr(mem)}},
					Ports:     []*aci.ContainerPort{{Port: to.Ptr[int32](80)}},
				},
			}},
			IPAddress: &aci.IPAddress{Type: to.Ptr(aci.ContainerGroupIPAddressTypePrivate),
				Ports: []*aci.Port{{Port: to.Ptr[int32](80), Protocol: to.Ptr(aci.ContainerGroupNetworkProtocolTCP)}}},
		},
	}
}

// create creates a group and waits for the SDK's poller to finish.
func (e *env) create(name string, body aci.ContainerGroup) aci.ContainerGroup {
	e.t.Helper()
	poller, err := e.groups.BeginCreateOrUpdate(ctx(e.t), testRG, name, body, nil)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	res, err := poller.PollUntilDone(ctx(e.t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil {
		e.t.Fatalf("create %s: poll: %v", name, err)
	}
	return res.ContainerGroup
}

func (e *env) get(name string) aci.ContainerGroup {
	e.t.Helper()
	res, err := e.groups.Get(ctx(e.t), testRG, name, nil)
	if err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return res.ContainerGroup
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitState waits until the group's instanceView.state is want.
func (e *env) waitState(name, want string) aci.ContainerGroup {
	e.t.Helper()
	var g aci.ContainerGroup
	waitFor(e.t, name+" in state "+want, 30*time.Second, func() (bool, string) {
		g = e.get(name)
		st := state(g)
		return st == want, st
	})
	return g
}

func state(g aci.ContainerGroup) string {
	if g.Properties == nil || g.Properties.InstanceView == nil || g.Properties.InstanceView.State == nil {
		return "<none>"
	}
	return *g.Properties.InstanceView.State
}

// armError is the decoded body of an ARM error response.
type armError struct {
	Status  int
	Code    string
	Message string
	Target  string
	Header  http.Header
}

// asARM unpacks an SDK error into the ARM error it carries.
func asARM(t *testing.T, err error) armError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want an ARM error response, got %v", err)
	}
	body, perr := azruntime.Payload(re.RawResponse)
	if perr != nil {
		t.Fatalf("read error body: %v", perr)
	}
	var wire struct {
		Error struct{ Code, Message, Target string } `json:"error"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		t.Fatalf("error body is not ARM's shape: %v: %s", err, body)
	}
	if wire.Error.Code != re.ErrorCode {
		t.Errorf("x-ms-error-code %q differs from body code %q", re.ErrorCode, wire.Error.Code)
	}
	if wire.Error.Message == "" {
		t.Errorf("error %s has no message", wire.Error.Code)
	}
	return armError{Status: re.StatusCode, Code: wire.Error.Code, Message: wire.Error.Message,
		Target: wire.Error.Target, Header: re.RawResponse.Header}
}

// raw sends an HTTP request to the service with the test token (unless
// token is "-") and returns status, headers and body.
func (e *env) raw(method, path, token string, body io.Reader) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx(e.t), method, e.inst.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "-" {
		if token == "" {
			token = testToken
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

func groupPath(name string) string {
	return "/subscriptions/" + testSub + "/resourceGroups/" + testRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/" + name
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
