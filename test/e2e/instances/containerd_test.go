package instances

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// newContainerdEnv runs the service with the containerd runtime on a
// bridge of the test's own (prefix and the pid) and subnet, pulling from a
// local registry holding the project's images, and leaves no pod, process,
// mount or bridge behind. It skips the test without root or binaries.
func newContainerdEnv(t *testing.T, prefix, subnet string, opts ...func(*config.Containerd)) (*env, framework.ImageRefs) {
	t.Helper()
	framework.RequireContainerd(t)
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	_, refs := framework.StartImageRegistry(c, t, dir)
	bridge := fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)
	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	framework.DeleteLinkAtEnd(t, bridge)
	e := newEnv(t, func(cfg *config.Config, _ *fake.Options) {
		cfg.Runtime = "containerd"
		cfg.Containerd = config.Containerd{SandboxImage: refs.Pause, Bridge: bridge, Subnet: subnet,
			StopTimeoutSeconds: 2}
		for _, o := range opts {
			o(&cfg.Containerd)
		}
	})
	// Whatever happens, leave no pod, process or mount behind.
	t.Cleanup(func() {
		_ = e.inst.Close()
		if err := app.RemoveGroups(context.Background(), e.cfg); err != nil {
			t.Errorf("remove the groups: %v", err)
		}
	})
	return e, refs
}

// TestContainerdRuntime runs real containers through the ARM API: the
// service runs its own containerd, pulls the project's images from a local
// registry, gives the group an IP on a bridge of the test's own, and keeps
// the group running across a restart of the service.
func TestContainerdRuntime(t *testing.T) {
	e, refs := newContainerdEnv(t, "vns", "10.246.0.0/24")

	body := group(refs.Hello, 1, 1)
	body.Properties.Containers[0].Properties.ReadinessProbe = &aci.ContainerProbe{
		HTTPGet: &aci.ContainerHTTPGet{Path: to.Ptr("/healthz"), Port: to.Ptr[int32](80)}, PeriodSeconds: to.Ptr[int32](1)}
	body.Properties.Containers[0].Properties.EnvironmentVariables = []*aci.EnvironmentVariable{
		{Name: to.Ptr("SECRET"), SecureValue: to.Ptr("s3cr3t")}}
	body.Properties.Containers = append(body.Properties.Containers, &aci.Container{Name: to.Ptr("side"),
		Properties: &aci.ContainerProperties{Image: to.Ptr(refs.Shell), Command: []*string{to.Ptr("/bin/sleep"), to.Ptr("3600")},
			Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(0.5), MemoryInGB: to.Ptr(0.5)}}}})
	e.create("web", body)
	g := e.waitState("web", "Running")
	ip := *g.Properties.IPAddress.IP
	if !strings.HasPrefix(ip, "10.246.0.") {
		t.Fatalf("group IP %s, want one in 10.246.0.0/24", ip)
	}
	get := func() (bool, string) {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + "/")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(b), "vnode"), resp.Status
	}
	waitFor(t, "hello to answer at the group's IP", time.Minute, get)
	// Readiness, a vnode addition to the instance view, follows the probe.
	waitFor(t, "main ready by its probe", time.Minute, func() (bool, string) {
		_, _, raw := e.raw(http.MethodGet, groupPath("web")+"?api-version=2023-05-01", "", nil)
		return strings.Count(string(raw), `"ready":true`) == 2, string(raw)
	})
	out, ce := e.exec("web", "side", "wget -q -O- http://127.0.0.1/healthz")
	if strings.TrimSpace(out) != "ok" || ce.Text != "exit code 0" {
		t.Errorf("exec in side over localhost: %q, %q", out, ce.Text)
	}
	out, _ = e.exec("web", "main", "env")
	if !strings.Contains(out, "SECRET=s3cr3t") {
		t.Errorf("main's environment lacks the secure value: %q", out)
	}
	_, ce = e.exec("web", "main", "false")
	if ce.Text != "exit code 1" {
		t.Errorf("exec false: %q", ce.Text)
	}
	waitFor(t, "the request in hello's log", 30*time.Second, func() (bool, string) {
		logs, err := e.ctrs.ListLogs(ctx(t), testRG, "web", "main", &aci.ContainersClientListLogsOptions{Tail: to.Ptr[int32](20)})
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(*logs.Content, "GET /"), *logs.Content
	})
	events := ""
	for _, ev := range g.Properties.Containers[0].Properties.InstanceView.Events {
		events += *ev.Name + ","
	}
	if !strings.Contains(events, "Pulled") || !strings.Contains(events, "Started") {
		t.Errorf("main's events: %s", events)
	}

	// The service restarts; containerd restarts with it; the group keeps running.
	e.restart()
	if g := e.get("web"); state(g) != "Running" || *g.Properties.IPAddress.IP != ip {
		t.Errorf("after a service restart: state %s ip %v", state(g), g.Properties.IPAddress.IP)
	}
	waitFor(t, "hello to answer after the restart", time.Minute, get)

	// A missing image fails the deployment with ACI's code.
	bad := group(strings.Replace(refs.Hello, "vnode/hello", "vnode/missing", 1), 1, 1)
	p, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "bad", bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err == nil || asARM(t, err).Code != "InaccessibleImage" {
		t.Errorf("a missing image: %v", err)
	}

	for _, name := range []string{"web", "bad"} {
		dp, err := e.groups.BeginDelete(ctx(t), testRG, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dp.PollUntilDone(ctx(t), nil); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := get(); ok {
		t.Error("the deleted group still answers")
	}
}
