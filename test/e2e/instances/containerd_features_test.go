package instances

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/google/go-containerregistry/pkg/authn"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/internal/registry"
	"github.com/vnode-io/vnode/internal/wire"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// shellContainer is a container running script with sh (1 CPU, 1 GB: a
// group's minimum).
func shellContainer(name, image, script string) *aci.Container {
	return &aci.Container{Name: to.Ptr(name), Properties: &aci.ContainerProperties{
		Image:     to.Ptr(image),
		Command:   []*string{to.Ptr("/bin/sh"), to.Ptr("-c"), to.Ptr(script)},
		Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(1.0), MemoryInGB: to.Ptr(1.0)}},
	}}
}

// shellGroup is a group of shell containers with the given restart policy.
func shellGroup(policy aci.ContainerGroupRestartPolicy, containers ...*aci.Container) aci.ContainerGroup {
	return aci.ContainerGroup{Location: to.Ptr(testLoc), Properties: &aci.ContainerGroupPropertiesProperties{
		OSType: to.Ptr(aci.OperatingSystemTypesLinux), RestartPolicy: to.Ptr(policy), Containers: containers}}
}

// TestContainerdFeatures runs what ACI users rely on against real
// containers: private-registry pulls with and without credentials, init
// containers in order and failing, every volume type (a file share shared
// by two groups and kept after them), a followed log, exec with separate
// streams and the exit code, stats, and nothing left after deleting all.
func TestContainerdFeatures(t *testing.T) {
	e, refs := newContainerdEnv(t, "vnf", "10.247.0.0/24")
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// A registry that wants a password, holding the shell image.
	private, err := registry.Start(c, registry.Config{Dir: filepath.Join(t.TempDir(), "private"), Addr: "127.0.0.1:0",
		Username: "puller", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(private.Stop)
	var b images.Builder
	shell, err := b.Shell(c)
	if err != nil {
		t.Fatal(err)
	}
	privateShell := private.Host() + "/" + images.ShellRepository + ":" + images.Tag
	if err := images.Push(c, shell, privateShell, &authn.Basic{Username: "puller", Password: "s3cret"}, true); err != nil {
		t.Fatal(err)
	}

	// Without credentials the pull fails with ACI's code.
	p, err := e.groups.BeginCreateOrUpdate(ctx(t), testRG, "nocreds",
		shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("app", privateShell, "sleep 3600")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err == nil || asARM(t, err).Code != "InaccessibleImage" {
		t.Errorf("a private image without credentials: %v", err)
	}

	// A git repository for the gitRepo volume, served over HTTP.
	repo := framework.ServeGitRepo(t, "README=from git\n")

	// With credentials: init containers in order, and every volume type.
	body := shellGroup(aci.ContainerGroupRestartPolicyAlways,
		shellContainer("app", privateShell, "echo ready; exec sleep 3600"))
	body.Properties.ImageRegistryCredentials = []*aci.ImageRegistryCredential{{Server: to.Ptr(private.Host()),
		Username: to.Ptr("puller"), Password: to.Ptr("s3cret")}}
	body.Properties.InitContainers = []*aci.InitContainerDefinition{
		{Name: to.Ptr("first"), Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr(refs.Shell),
			Command:      []*string{to.Ptr("/bin/sh"), to.Ptr("-c"), to.Ptr("echo first >> /work/order")},
			VolumeMounts: []*aci.VolumeMount{{Name: to.Ptr("workdir"), MountPath: to.Ptr("/work")}}}},
		{Name: to.Ptr("second"), Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr(refs.Shell),
			Command:      []*string{to.Ptr("/bin/sh"), to.Ptr("-c"), to.Ptr("echo second >> /work/order")},
			VolumeMounts: []*aci.VolumeMount{{Name: to.Ptr("workdir"), MountPath: to.Ptr("/work")}}}},
	}
	body.Properties.Volumes = []*aci.Volume{
		{Name: to.Ptr("workdir"), EmptyDir: map[string]any{}},
		{Name: to.Ptr("creds"), Secret: map[string]*string{"token": to.Ptr(base64.StdEncoding.EncodeToString([]byte("t0ken")))}},
		{Name: to.Ptr("source"), GitRepo: &aci.GitRepoVolume{Repository: to.Ptr(repo.URL), Directory: to.Ptr("code")}},
		{Name: to.Ptr("share"), AzureFile: &aci.AzureFileVolume{ShareName: to.Ptr("data"), StorageAccountName: to.Ptr("acct"),
			StorageAccountKey: to.Ptr("key")}},
	}
	body.Properties.Containers[0].Properties.VolumeMounts = []*aci.VolumeMount{
		{Name: to.Ptr("workdir"), MountPath: to.Ptr("/work")},
		{Name: to.Ptr("creds"), MountPath: to.Ptr("/creds"), ReadOnly: to.Ptr(true)},
		{Name: to.Ptr("source"), MountPath: to.Ptr("/src")},
		{Name: to.Ptr("share"), MountPath: to.Ptr("/share")},
	}
	e.create("full", body)
	e.waitState("full", "Running")
	// The private image is now cached: a group without credentials still
	// may not use it.
	p, err = e.groups.BeginCreateOrUpdate(ctx(t), testRG, "nocreds-cached",
		shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("app", privateShell, "sleep 3600")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err == nil || asARM(t, err).Code != "InaccessibleImage" {
		t.Errorf("a cached private image without credentials: %v", err)
	}
	// A revision the repository lacks fails the deployment in words of
	// the service's own: git's output, which could quote a file, stays in
	// the service's log.
	badRev := shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("app", refs.Shell, "sleep 3600"))
	badRev.Properties.Volumes = []*aci.Volume{{Name: to.Ptr("source"),
		GitRepo: &aci.GitRepoVolume{Repository: to.Ptr(repo.URL), Revision: to.Ptr("nosuch")}}}
	p, err = e.groups.BeginCreateOrUpdate(ctx(t), testRG, "bad-revision", badRev, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err == nil {
		t.Error("a group with an unknown revision deployed")
	} else if ae := asARM(t, err); ae.Code != "FailedMount" || !strings.Contains(ae.Message, "the revision does not exist") ||
		strings.Contains(ae.Message, "fatal") {
		t.Errorf("an unknown revision: %s: %s", ae.Code, ae.Message)
	}
	for _, check := range []struct {
		argv []string
		want string
	}{
		{[]string{"cat", "/work/order"}, "first\nsecond\n"},
		{[]string{"cat", "/creds/token"}, "t0ken"},
		{[]string{"stat", "-L", "-c", "%a", "/creds/token"}, "644\n"}, // a link into ..data, as the kubelet lays secret volumes out
		{[]string{"readlink", "/creds/token"}, "..data/token\n"},
		{[]string{"cat", "/src/code/README"}, "from git\n"},
		{[]string{"sh", "-c", "echo shared > /share/note && cat /share/note"}, "shared\n"},
	} {
		if r := e.execArgv("full", "app", check.argv, ""); r.stdout != check.want || r.code != 0 {
			t.Errorf("exec %q: %+v, want stdout %q", check.argv, r, check.want)
		}
	}
	if r := e.execArgv("full", "app", []string{"sh", "-c", "echo x > /creds/other"}, ""); r.code == 0 {
		t.Errorf("a read-only secret volume was writable: %+v", r)
	}
	// Exec keeps stdout and stderr apart and reports the exit code; stdin arrives.
	r := e.execArgv("full", "app", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, "")
	if r.stdout != "out\n" || r.stderr != "err\n" || r.code != 3 {
		t.Errorf("exec with both streams and exit 3: %+v", r)
	}
	if r := e.execArgv("full", "app", []string{"wc", "-c"}, "12345"); strings.TrimSpace(r.stdout) != "5" {
		t.Errorf("exec with stdin: %+v", r)
	}

	// A second group mounting the same share sees the first one's file.
	share := shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("reader", refs.Shell, "cat /share/note; sleep 3600"))
	share.Properties.Volumes = []*aci.Volume{{Name: to.Ptr("share"), AzureFile: &aci.AzureFileVolume{ShareName: to.Ptr("data"),
		StorageAccountName: to.Ptr("acct"), StorageAccountKey: to.Ptr("key"), ReadOnly: to.Ptr(true)}}}
	share.Properties.Containers[0].Properties.VolumeMounts = []*aci.VolumeMount{{Name: to.Ptr("share"), MountPath: to.Ptr("/share")}}
	e.create("reader", share)
	e.waitState("reader", "Running")
	if out, _ := e.followLogs("reader", "reader", 30*time.Second, "shared"); !strings.Contains(out, "shared") {
		t.Errorf("the second group's view of the share: %q", out)
	}
	if r := e.execArgv("reader", "reader", []string{"sh", "-c", "echo x > /share/y"}, ""); r.code == 0 {
		t.Errorf("a read-only share was writable: %+v", r)
	}

	// A failing init container under Never ends the group there, Failed,
	// before its containers start; the deployment itself succeeded.
	failing := shellGroup(aci.ContainerGroupRestartPolicyNever, shellContainer("app", refs.Shell, "sleep 3600"))
	failing.Properties.InitContainers = []*aci.InitContainerDefinition{{Name: to.Ptr("check"),
		Properties: &aci.InitContainerPropertiesDefinition{Image: to.Ptr(refs.Shell),
			Command: []*string{to.Ptr("/bin/sh"), to.Ptr("-c"), to.Ptr("exit 4")}}}}
	p, err = e.groups.BeginCreateOrUpdate(ctx(t), testRG, "initfail", failing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err != nil {
		t.Errorf("the deployment of a group whose init container fails: %v", err)
	}
	waitFor(t, "the failing init container to end the group", time.Minute, func() (bool, string) {
		g := e.get("initfail")
		init := g.Properties.InitContainers[0].Properties.InstanceView
		app := g.Properties.Containers[0].Properties.InstanceView
		done := init != nil && init.CurrentState != nil && init.CurrentState.ExitCode != nil && *init.CurrentState.ExitCode == 4
		started := app != nil && app.CurrentState != nil && app.CurrentState.StartTime != nil
		js, _ := json.Marshal(g.Properties.InstanceView)
		return done && !started && state(g) == "Failed", string(js)
	})

	// A tcpSocket readiness probe (a vnode addition, so the body is raw
	// JSON): not ready until the port opens, then ready; the GET answer
	// carries the probe back.
	tcp := `{"location":"` + testLoc + `","properties":{"osType":"Linux","containers":[{"name":"srv","properties":{` +
		`"image":"` + refs.Shell + `","command":["/bin/sh","-c","while [ ! -f /tmp/go ]; do sleep 1; done; exec httpd -f -p 7000 -h /tmp"],` +
		`"resources":{"requests":{"cpu":1,"memoryInGB":1}},` +
		`"readinessProbe":{"tcpSocket":{"port":7000},"periodSeconds":1,"failureThreshold":1}}}]}}`
	if status, _, raw := e.raw(http.MethodPut, groupPath("tcp")+"?api-version=2023-05-01", "", strings.NewReader(tcp)); status != http.StatusCreated {
		t.Fatalf("create with a tcpSocket probe: %d %s", status, raw)
	}
	e.waitState("tcp", "Running")
	readiness := func() (string, string) {
		_, _, raw := e.raw(http.MethodGet, groupPath("tcp")+"?api-version=2023-05-01", "", nil)
		var g struct {
			Properties struct {
				Containers []struct {
					Properties struct {
						ReadinessProbe struct {
							TCPSocket *struct{ Port int } `json:"tcpSocket"`
						} `json:"readinessProbe"`
						InstanceView struct {
							Ready *bool `json:"ready"`
						} `json:"instanceView"`
					} `json:"properties"`
				} `json:"containers"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(raw, &g)
		if len(g.Properties.Containers) != 1 {
			return "", string(raw)
		}
		p := g.Properties.Containers[0].Properties
		if p.ReadinessProbe.TCPSocket == nil || p.ReadinessProbe.TCPSocket.Port != 7000 {
			return "no tcpSocket", string(raw)
		}
		return fmt.Sprint(p.InstanceView.Ready != nil && *p.InstanceView.Ready), string(raw)
	}
	waitFor(t, "the tcpSocket probe to report not ready", 30*time.Second, func() (bool, string) {
		got, raw := readiness()
		return got == "false", raw
	})
	// Let the shell start the server.
	if r := e.execArgv("tcp", "srv", []string{"touch", "/tmp/go"}, ""); r.code != 0 {
		t.Fatalf("start the server: %+v", r)
	}
	waitFor(t, "the tcpSocket probe to report ready", 30*time.Second, func() (bool, string) {
		got, raw := readiness()
		return got == "true", raw
	})

	// A followed log streams until the container ends.
	e.create("counter", shellGroup(aci.ContainerGroupRestartPolicyNever,
		shellContainer("count", refs.Shell, "for i in 1 2 3; do echo line $i; sleep 1; done")))
	e.waitState("counter", "Running")
	if out, ended := e.followLogs("counter", "count", time.Minute, ""); out != "line 1\nline 2\nline 3\n" || !ended {
		t.Errorf("followed log %q (ended %v)", out, ended)
	}

	// Stats are the container's own: memory in use, CPU time growing.
	e.execArgv("full", "app", []string{"sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"}, "")
	status, _, raw := e.raw(http.MethodGet, groupPath("full")+"/stats?api-version=2023-05-01", "", nil)
	var st wire.GroupStats
	if err := json.Unmarshal(raw, &st); status != http.StatusOK || err != nil || len(st.Containers) != 1 ||
		st.Containers[0].MemoryWorkingSetBytes == 0 || st.Containers[0].CPUUsageCoreNanoSeconds == 0 {
		t.Errorf("stats of a busy container: %d %s", status, raw)
	}

	// Deleting everything leaves no sandbox, container, mount or IP lease;
	// the share stays.
	for _, name := range []string{"nocreds", "nocreds-cached", "full", "reader", "initfail", "counter", "tcp"} {
		dp, err := e.groups.BeginDelete(ctx(t), testRG, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dp.PollUntilDone(ctx(t), nil); err != nil {
			t.Fatal(err)
		}
	}
	d, err := containerd.Connect(c, containerd.Config{Dir: filepath.Join(e.cfg.DataDir, "containerd")}.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Stop(c) }()
	waitFor(t, "no sandbox or container left", 30*time.Second, func() (bool, string) {
		sbs, err := d.RuntimeClient().ListPodSandbox(c, &runtimeapi.ListPodSandboxRequest{})
		if err != nil {
			return false, err.Error()
		}
		ctrs, err := d.RuntimeClient().ListContainers(c, &runtimeapi.ListContainersRequest{})
		if err != nil {
			return false, err.Error()
		}
		return len(sbs.Items) == 0 && len(ctrs.Containers) == 0, ""
	})
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, e.cfg.DataDir) && !strings.Contains(line, "/containerd/root/") {
			t.Errorf("a mount is left: %s", line)
		}
	}
	leases, _ := filepath.Glob(filepath.Join(e.cfg.DataDir, "ipam", "*", "10.*"))
	if len(leases) > 0 {
		t.Errorf("IP leases are left: %v", leases)
	}
	if data, err := os.ReadFile(filepath.Join(e.cfg.DataDir, "runtime", "shares", "acct", "data", "note")); err != nil || string(data) != "shared\n" {
		t.Errorf("the share after its groups: %q, %v", data, err)
	}
}

// TestExistingContainerd points the service at a containerd that runs
// already (containerd.endpoint): groups run there, and remove-groups ends
// only the service's own sandboxes, not another client's.
func TestExistingContainerd(t *testing.T) {
	framework.RequireContainerd(t)
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	_, refs := framework.StartImageRegistry(c, t, dir)
	bridge := fmt.Sprintf("vnx%d", os.Getpid()%100000)
	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	framework.DeleteLinkAtEnd(t, bridge)
	cni := filepath.Join(dir, "cni")
	if err := network.WriteCNIConfig(cni, network.Config{Bridge: bridge, Subnet: "10.243.0.0/24", IPAMDir: filepath.Join(dir, "ipam")}); err != nil {
		t.Fatal(err)
	}
	d, err := containerd.Start(c, containerd.Config{Dir: filepath.Join(dir, "containerd"), SandboxImage: refs.Pause, CNIConfDir: cni})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Cleanup(context.Background()); err != nil {
			t.Errorf("containerd cleanup: %v", err)
		}
	})
	if _, err := d.ImageClient().PullImage(c, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: refs.Pause}}); err != nil {
		t.Fatal(err)
	}
	// Another client's pod on the same containerd.
	other, err := d.RuntimeClient().RunPodSandbox(c, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "other", Uid: "other-uid", Namespace: "elsewhere"},
		Linux:    &runtimeapi.LinuxPodSandboxConfig{}}})
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, func(cfg *config.Config, _ *fake.Options) {
		cfg.Runtime = "containerd"
		cfg.Containerd = config.Containerd{Endpoint: d.Socket(), StopTimeoutSeconds: 2}
	})
	e.create("web", group(refs.Hello, 1, 1))
	g := e.waitState("web", "Running")
	if ip := *g.Properties.IPAddress.IP; !strings.HasPrefix(ip, "10.243.0.") {
		t.Errorf("group IP %s, want one from the existing containerd's network 10.243.0.0/24", ip)
	}
	if err := e.inst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := app.RemoveGroups(c, e.cfg); err != nil {
		t.Fatal(err)
	}
	sbs, err := d.RuntimeClient().ListPodSandbox(c, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sbs.Items) != 1 || sbs.Items[0].Id != other.PodSandboxId {
		t.Errorf("after remove-groups the containerd has %d sandboxes, want only the other client's", len(sbs.Items))
	}
}
