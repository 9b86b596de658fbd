package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/client"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// vnodeCLI runs the vnode binary and returns its combined output and error.
func vnodeCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.vnode, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// clusters counts the clusters the tests start, to give each its own
// group network.
var clusters atomic.Int32

// portFlags are the flags that keep a test's cluster apart from others:
// its ports and the container groups' bridge and subnet (10.250.N.0/24).
func portFlags(p localcluster.Ports) []string {
	n := clusters.Add(1)
	return append(framework.PortFlags(p),
		fmt.Sprintf("--bridge=vncp%d", p.Instances),
		fmt.Sprintf("--subnet=10.250.%d.0/24", n%256),
	)
}

// The interface that scripts and docs rely on:
// vnode up --detach && kubectl get --raw /readyz && vnode status && vnode down
func TestCLIUpDetachStatusDown(t *testing.T) {
	stateDir := t.TempDir()
	ports, err := localcluster.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = vnodeCLI(t, "down", "--state-dir", stateDir) })

	up := func() {
		args := append([]string{"up", "--detach", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir}, portFlags(ports)...)
		out, err := vnodeCLI(t, args...)
		if err != nil {
			t.Fatalf("vnode up --detach: %v\n%s", err, out)
		}
		for _, want := range []string{"kube-apiserver", "ready", "export KUBECONFIG=" + filepath.Join(stateDir, "kubeconfig")} {
			if !strings.Contains(out, want) {
				t.Errorf("vnode up output lacks %q:\n%s", want, out)
			}
		}
	}
	up()
	kubectl := exec.Command(env.binaries.Path(k8sbin.Kubectl), "get", "--raw", "/readyz")
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(stateDir, "kubeconfig"))
	if out, err := kubectl.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("kubectl get --raw /readyz: %v: %s", err, out)
	}
	out, err := vnodeCLI(t, "status", "--state-dir", stateDir)
	if err != nil {
		t.Fatalf("vnode status: %v\n%s", err, out)
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "registry", "registry-private", "instances", "node"} {
		if !regexpLine(out, name, "ready") {
			t.Errorf("vnode status does not show %s ready:\n%s", name, out)
		}
	}
	checkInstancesService(t, stateDir, ports)
	applySample(t, stateDir, ports)
	sample := waitSampleServing(t, stateDir)
	caBefore, err := os.ReadFile(filepath.Join(stateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}

	down := func() {
		out, err := vnodeCLI(t, "down", "--state-dir", stateDir)
		if err != nil || !strings.Contains(out, "stopped") {
			t.Fatalf("vnode down: %v\n%s", err, out)
		}
		if pids := framework.ProcessesMentioning(stateDir); len(pids) > 0 {
			t.Errorf("processes %v still mention %s after vnode down", pids, stateDir)
		}
		assertGroupsGone(t, stateDir, ports)
		assertPortsFree(t, ports)
	}
	down()

	out, err = vnodeCLI(t, "status", "--state-dir", stateDir)
	if err == nil || !strings.Contains(out, "not running") {
		t.Errorf("vnode status of a stopped cluster: err %v\n%s", err, out)
	}

	// Up again: the saved ports are reused without flags, and so is the CA.
	out, err = vnodeCLI(t, "up", "--detach", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir)
	if err != nil {
		t.Fatalf("second vnode up: %v\n%s", err, out)
	}
	caAfter, err := os.ReadFile(filepath.Join(stateDir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("second vnode up created a new CA")
	}
	// Stopping the cluster ended the sample's group; the virtual node
	// deploys it again, as a kubelet restarts a pod's containers after a
	// reboot.
	if again := waitSampleServing(t, stateDir); again.UID != sample.UID {
		t.Errorf("the sample's pod was replaced (%s, then %s) rather than run again", sample.UID, again.UID)
	}
	out, err = vnodeCLI(t, "up", "--detach", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir)
	if err == nil || !strings.Contains(out, "already running") {
		t.Errorf("vnode up on a running cluster: err %v\n%s", err, out)
	}
	down()
}

func regexpLine(out, first, contains string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == first && strings.Contains(line, contains) && !strings.Contains(line, "not ready") {
			return true
		}
	}
	return false
}

func TestCLIPortInUse(t *testing.T) {
	ports, err := localcluster.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports.APIServer))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stateDir := t.TempDir()
	out, err := vnodeCLI(t, append([]string{"up", "--state-dir", stateDir, "--bin-dir", env.binaries.Dir}, portFlags(ports)...)...)
	if err == nil {
		t.Fatalf("vnode up succeeded on a busy port:\n%s", out)
	}
	want := "port " + strconv.Itoa(ports.APIServer) + " for kube-apiserver is already in use"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if pids := framework.ProcessesMentioning(stateDir); len(pids) > 0 {
		t.Errorf("processes %v left behind by a failed up", pids)
	}
}

func TestCLIStateDirNotWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := vnodeCLI(t, "up", "--state-dir", filepath.Join(file, "state"), "--bin-dir", env.binaries.Dir)
	if err == nil || !strings.Contains(out, "state directory") {
		t.Errorf("vnode up with an unusable state directory: err %v\n%s", err, out)
	}
}

func TestCLIBrokenBinDir(t *testing.T) {
	out, err := vnodeCLI(t, "up", "--state-dir", t.TempDir(), "--bin-dir", t.TempDir())
	if err == nil || !strings.Contains(out, "kube-apiserver") || !strings.Contains(out, "lacks") {
		t.Errorf("vnode up with an empty --bin-dir: err %v\n%s", err, out)
	}
}

func TestCLIVersion(t *testing.T) {
	out, err := vnodeCLI(t, "version")
	if err != nil || !strings.Contains(out, "kubernetes: v1.37.2") || !strings.Contains(out, "go: go1.") {
		t.Errorf("vnode version: %v\n%s", err, out)
	}
}

// checkInstancesService drives the container instances service that vnode up
// started with the official SDK client, configured from DIR/instances/ only:
// a group from the local registry's hello image runs on containerd and
// answers HTTP at its IP in the cluster's group subnet; vnode instances usage
// shows its metering.
func checkInstancesService(t *testing.T, stateDir string, ports localcluster.Ports) {
	t.Helper()
	files, err := client.Load(filepath.Join(stateDir, "instances"))
	if err != nil {
		t.Fatal(err)
	}
	if files.CAFile == "" || files.ResourceGroup == "" || files.Location == "" || len(files.Subscription) != 36 {
		t.Fatalf("client files: %+v", files)
	}
	factory, err := files.ClientFactory(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	regs, err := localcluster.ReadRegistries(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	groups := factory.NewContainerGroupsClient()
	poller, err := groups.BeginCreateOrUpdate(ctx, files.ResourceGroup, "smoke", aci.ContainerGroup{
		Location: to.Ptr(files.Location),
		Properties: &aci.ContainerGroupPropertiesProperties{
			OSType: to.Ptr(aci.OperatingSystemTypesLinux),
			IPAddress: &aci.IPAddress{Type: to.Ptr(aci.ContainerGroupIPAddressTypePrivate),
				Ports: []*aci.Port{{Port: to.Ptr[int32](80)}}},
			Containers: []*aci.Container{{Name: to.Ptr("c"), Properties: &aci.ContainerProperties{
				Image:     to.Ptr(regs.Images.Hello),
				Ports:     []*aci.ContainerPort{{Port: to.Ptr[int32](80)}},
				Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(1.0), MemoryInGB: to.Ptr(1.0)}},
			}}},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create a container group: %v", err)
	}
	res, err := poller.PollUntilDone(ctx, &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil || *res.Properties.ProvisioningState != "Succeeded" {
		t.Fatalf("create a container group: %v", err)
	}
	_, subnet, _ := net.ParseCIDR(fmt.Sprintf("10.250.%d.0/24", subnetOf(t, stateDir)))
	var ip string
	framework.WaitFor(t, "the smoke group answering HTTP", time.Minute, func() (bool, error) {
		g, err := groups.Get(ctx, files.ResourceGroup, "smoke", nil)
		if err != nil {
			return false, err
		}
		if g.Properties.IPAddress == nil || g.Properties.IPAddress.IP == nil {
			return false, fmt.Errorf("no IP yet")
		}
		ip = *g.Properties.IPAddress.IP
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("GET /healthz: %s", resp.Status)
	})
	if !subnet.Contains(net.ParseIP(ip)) {
		t.Errorf("group IP %s is not in the cluster's group subnet %s", ip, subnet)
	}
	out, err := vnodeCLI(t, "instances", "usage", "--state-dir", stateDir)
	if err != nil || !regexpLine(out, files.ResourceGroup, "smoke") {
		t.Errorf("vnode instances usage: %v\n%s", err, out)
	}
}

// subnetOf reads the third octet of the group subnet a cluster was started with.
func subnetOf(t *testing.T, stateDir string) int {
	t.Helper()
	cfg, err := localcluster.LoadConfig(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var a, b, c, d, bits int
	if _, err := fmt.Sscanf(cfg.GroupSubnet, "%d.%d.%d.%d/%d", &a, &b, &c, &d, &bits); err != nil {
		t.Fatalf("group subnet %q: %v", cfg.GroupSubnet, err)
	}
	return c
}

// assertGroupsGone checks that a stopped cluster left no container behind:
// no shim of its containerd, no mount under its state directory, no bridge.
func assertGroupsGone(t *testing.T, stateDir string, ports localcluster.Ports) {
	t.Helper()
	socket := containerd.Config{Dir: filepath.Join(stateDir, "instances", "data", "containerd")}.SocketPath()
	if pids := framework.ProcessesMentioning(socket); len(pids) > 0 {
		t.Errorf("processes %v (shims) of the cluster's containerd are left", pids)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), stateDir) {
		t.Errorf("mounts under %s are left", stateDir)
	}
	bridge := fmt.Sprintf("vncp%d", ports.Instances)
	if exec.Command("ip", "link", "show", "dev", bridge).Run() == nil {
		t.Errorf("bridge %s is left", bridge)
	}
	// kube-proxy's Service rules go with the cluster.
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(tool).Output()
		if err != nil {
			t.Errorf("%s: %v", tool, err)
			continue
		}
		if i := strings.Index(string(out), "KUBE-"); i >= 0 {
			t.Errorf("%s still has kube-proxy's rules: %q", tool, string(out)[i:min(len(out), i+120)])
		}
	}
}
