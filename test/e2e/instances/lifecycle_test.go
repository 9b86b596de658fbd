package instances

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
)

func TestCreateGetListDelete(t *testing.T) {
	e := newEnv(t)
	var first *http.Response
	poller, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &first), testRG, "web",
		group("registry.local/hello:1", 1, 1.5), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.StatusCode != http.StatusCreated {
		t.Errorf("create answered %d, want 201", first.StatusCode)
	}
	if h := first.Header.Get("Azure-AsyncOperation"); !strings.Contains(h, "/locations/local/operations/") {
		t.Errorf("Azure-AsyncOperation header %q", h)
	}
	res, err := poller.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := *res.Properties.ProvisioningState; got != "Succeeded" {
		t.Errorf("provisioningState after the poller: %s", got)
	}
	g := e.waitState("web", "Running")
	wantID := "/subscriptions/" + testSub + "/resourceGroups/" + testRG + "/providers/Microsoft.ContainerInstance/containerGroups/web"
	if *g.ID != wantID || *g.Name != "web" || *g.Type != "Microsoft.ContainerInstance/containerGroups" || *g.Location != testLoc {
		t.Errorf("identity: id %s name %s type %s location %s", *g.ID, *g.Name, *g.Type, *g.Location)
	}
	if g.Properties.IPAddress.IP == nil || !strings.HasPrefix(*g.Properties.IPAddress.IP, "10.241.") {
		t.Errorf("group IP %v, want one in 10.241.0.0/16", g.Properties.IPAddress.IP)
	}
	iv := g.Properties.Containers[0].Properties.InstanceView
	if iv == nil || *iv.CurrentState.State != "Running" || iv.CurrentState.StartTime == nil || *iv.RestartCount != 0 {
		t.Fatalf("container instance view: %+v", iv)
	}
	var names []string
	for _, ev := range iv.Events {
		names = append(names, *ev.Name)
	}
	if got := strings.Join(names, ","); got != "Pulling,Pulled,Created,Started" {
		t.Errorf("container events %s, want Pulling,Pulled,Created,Started", got)
	}
	if *g.Tags["app"] != "demo" {
		t.Errorf("tags %v", g.Tags)
	}

	// Lists carry no instance view, as ACI.
	e.create("worker", group("registry.local/hello:1", 1, 1))
	pager := e.groups.NewListByResourceGroupPager(testRG, nil)
	page, err := pager.NextPage(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 2 || *page.Value[0].Name != "web" || *page.Value[1].Name != "worker" {
		t.Fatalf("list by resource group: %d items", len(page.Value))
	}
	if page.Value[0].Properties.InstanceView != nil || page.Value[0].Properties.Containers[0].Properties.InstanceView != nil {
		t.Error("list items carry an instance view")
	}

	var del *http.Response
	dp, err := e.groups.BeginDelete(policy.WithCaptureResponse(ctx(t), &del), testRG, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if del.StatusCode != http.StatusAccepted {
		t.Errorf("delete answered %d, want 202", del.StatusCode)
	}
	if _, err := dp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	_, err = e.groups.Get(ctx(t), testRG, "web", nil)
	if ae := asARM(t, err); ae.Status != 404 || ae.Code != "ResourceNotFound" {
		t.Errorf("get after delete: %d %s", ae.Status, ae.Code)
	}
	// gracePeriodSeconds (a vnode extension) is checked.
	if status, _, body := e.raw(http.MethodDelete, groupPath("worker")+"?api-version=2023-05-01&gracePeriodSeconds=soon", "", nil); status != 400 ||
		!strings.Contains(string(body), `"target":"gracePeriodSeconds"`) {
		t.Errorf("DELETE with a bad gracePeriodSeconds: %d %s", status, body)
	}
	// Deleting what does not exist answers 204.
	del = nil
	dp, err = e.groups.BeginDelete(policy.WithCaptureResponse(ctx(t), &del), testRG, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if del.StatusCode != http.StatusNoContent {
		t.Errorf("second delete answered %d, want 204", del.StatusCode)
	}
	if _, err := dp.PollUntilDone(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(mustList(t, e)); n != 1 {
		t.Errorf("%d groups left, want 1", n)
	}
}

func mustList(t *testing.T, e *env) []*aci.ContainerGroup {
	t.Helper()
	var out []*aci.ContainerGroup
	pager := e.groups.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Value...)
	}
	return out
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, func(c *config.Config, _ *fake.Options) { c.ListPageSize = 3 })
	for i := 0; i < 7; i++ {
		rg := "rg1"
		if i%2 == 1 {
			rg = "rg2"
		}
		p, err := e.groups.BeginCreateOrUpdate(ctx(t), rg, fmt.Sprintf("g%d", i), group("img", 1, 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 50 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	pages := 0
	seen := map[string]bool{}
	pager := e.groups.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Value) > 3 {
			t.Errorf("page of %d items, page size is 3", len(page.Value))
		}
		for _, g := range page.Value {
			if seen[*g.ID] {
				t.Errorf("%s listed twice", *g.ID)
			}
			seen[*g.ID] = true
		}
	}
	if len(seen) != 7 || pages != 3 {
		t.Errorf("listed %d groups on %d pages, want 7 on 3", len(seen), pages)
	}
	n := 0
	rgPager := e.groups.NewListByResourceGroupPager("RG2", nil) // resource group names are case-insensitive
	for rgPager.More() {
		page, err := rgPager.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 3 {
		t.Errorf("rg2 lists %d groups, want 3", n)
	}
}

func TestStopStartRestartTags(t *testing.T) {
	e := newEnv(t)
	e.create("app", group("img", 1, 1))
	e.waitState("app", "Running")

	var resp *http.Response
	if _, err := e.groups.Stop(policy.WithCaptureResponse(ctx(t), &resp), testRG, "app", nil); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("stop answered %d, want 204", resp.StatusCode)
	}
	g := e.get("app")
	if state(g) != "Stopped" {
		t.Fatalf("state after stop: %s", state(g))
	}
	if g.Properties.IPAddress.IP != nil {
		t.Errorf("a stopped group still reports IP %s", *g.Properties.IPAddress.IP)
	}
	cs := g.Properties.Containers[0].Properties.InstanceView.CurrentState
	if *cs.State != "Terminated" {
		t.Errorf("container after stop: %s", *cs.State)
	}
	// Restarting a stopped group is refused; start it instead.
	_, err := e.groups.BeginRestart(ctx(t), testRG, "app", nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "ContainerGroupNotRunning" {
		t.Errorf("restart while stopped: %d %s", ae.Status, ae.Code)
	}

	sp, err := e.groups.BeginStart(policy.WithCaptureResponse(ctx(t), &resp), testRG, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("start answered %d, want 202", resp.StatusCode)
	}
	if _, err := sp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	e.waitState("app", "Running")

	rp, err := e.groups.BeginRestart(policy.WithCaptureResponse(ctx(t), &resp), testRG, "app", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("restart answered %d, want 204", resp.StatusCode)
	}
	if _, err := rp.PollUntilDone(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart count 1", 10*time.Second, func() (bool, string) {
		iv := e.get("app").Properties.Containers[0].Properties.InstanceView
		return *iv.RestartCount == 1 && *iv.CurrentState.State == "Running" && iv.PreviousState != nil,
			fmt.Sprintf("restarts %d state %s", *iv.RestartCount, *iv.CurrentState.State)
	})

	up, err := e.groups.Update(ctx(t), testRG, "app", aci.Resource{Tags: map[string]*string{"team": to.Ptr("blue")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Tags) != 1 || *up.Tags["team"] != "blue" {
		t.Errorf("tags after PATCH: %v", up.Tags)
	}
	if got := e.get("app"); len(got.Tags) != 1 || state(got) != "Running" {
		t.Errorf("after PATCH: tags %v state %s", got.Tags, state(got))
	}
	_, err = e.groups.Stop(ctx(t), testRG, "missing", nil)
	if ae := asARM(t, err); ae.Status != 404 || ae.Code != "ResourceNotFound" {
		t.Errorf("stop of a missing group: %d %s", ae.Status, ae.Code)
	}
}

func TestRestartPolicyAndFailures(t *testing.T) {
	e := newEnv(t)
	never := group("img", 1, 1)
	never.Properties.RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicyNever)
	never.Properties.Containers[0].Properties.Command = []*string{to.Ptr("exit"), to.Ptr("3")}
	e.create("job-fails", never)
	g := e.waitState("job-fails", "Failed")
	cs := g.Properties.Containers[0].Properties.InstanceView.CurrentState
	if *cs.State != "Terminated" || *cs.ExitCode != 3 || cs.FinishTime == nil {
		t.Errorf("failed job container: %s exit %v", *cs.State, cs.ExitCode)
	}

	ok := group("img", 1, 1)
	ok.Properties.RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicyOnFailure)
	ok.Properties.Containers[0].Properties.Command = []*string{to.Ptr("exit"), to.Ptr("0")}
	e.create("job-ok", ok)
	e.waitState("job-ok", "Succeeded")

	// An image that cannot be pulled fails provisioning with ACI's code.
	p, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "bad-image", group("registry.local/inaccessible:1", 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err == nil {
		t.Fatal("creating a group with an inaccessible image succeeded")
	}
	if ae := asARM(t, err); ae.Code != "InaccessibleImage" || !contains(ae.Message, "inaccessible") {
		t.Errorf("poller error: %s %s", ae.Code, ae.Message)
	}
	bad := e.get("bad-image")
	if *bad.Properties.ProvisioningState != "Failed" || state(bad) != "Failed" {
		t.Errorf("bad image: provisioning %s state %s", *bad.Properties.ProvisioningState, state(bad))
	}
	found := false
	for _, ev := range bad.Properties.InstanceView.Events {
		if *ev.Name == "Failed" && *ev.Type == "Warning" && contains(*ev.Message, "inaccessible") {
			found = true
		}
	}
	if !found {
		t.Errorf("no Failed event on the group: %+v", bad.Properties.InstanceView.Events)
	}
	// Fixing the image and PUTting again deploys it anew.
	e.create("bad-image", group("registry.local/hello:1", 1, 1))
	e.waitState("bad-image", "Running")
}
