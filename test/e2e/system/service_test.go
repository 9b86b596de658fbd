package system

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/wire"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// serviceGroups lists every container group of the cluster's service.
func serviceGroups(t *testing.T) []*aci.ContainerGroup {
	t.Helper()
	groups, rg := groupsClient(t)
	var out []*aci.ContainerGroup
	pager := groups.NewListByResourceGroupPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list container groups: %v", err)
		}
		out = append(out, page.Value...)
	}
	return out
}

// groupsOfNamespace returns the names of the groups whose tags say they run
// a pod of ns.
func groupsOfNamespace(t *testing.T, ns string) []string {
	t.Helper()
	var names []string
	for _, g := range serviceGroups(t) {
		if tag := g.Tags["Namespace"]; tag != nil && *tag == ns {
			names = append(names, *g.Name)
		}
	}
	return names
}

// vnode instances usage reports the vCPU-seconds of the pods' groups.
func TestUsageOfPods(t *testing.T) {
	ns := namespace(t)
	createPod(t, ns, virtualPod("metered", corev1.Container{Name: "web", Image: env.Regs.Images.Hello,
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: *resourceQuantity("1")}}}))
	waitPod(t, ns, "metered", "Running", 2*time.Minute, running)
	groups := groupsOfNamespace(t, ns)
	if len(groups) != 1 {
		t.Fatalf("groups of the namespace: %v", groups)
	}
	framework.WaitFor(t, "vCPU-seconds metered for the pod", time.Minute, func() (bool, error) {
		out, err := vnode(context.Background(), "instances", "usage", "--state-dir", env.StateDir, "--name", groups[0], "-o", "json")
		if err != nil {
			return false, fmt.Errorf("%v: %s", err, out)
		}
		var res wire.MeteredUsage
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return false, fmt.Errorf("%v: %s", err, out)
		}
		for _, r := range res.Value {
			if r.Name == groups[0] && r.VCPUSeconds >= 1 {
				return true, nil
			}
		}
		return false, fmt.Errorf("usage: %s", out)
	})
}

// An agent killed in the middle of a burst and started again adopts the
// groups that run, without creating or restarting them, and creates the
// rest. It runs as a second virtual node, so the cluster's own keeps
// serving the other tests.
func TestAgentRestartAdoptsGroups(t *testing.T) {
	ns := namespace(t)
	const node = "vnode-e2e-restart"
	ports, err := localcluster.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(env.Vnode, "node", "--kubeconfig", kubeconfig(), "--node-name", node,
			"--backend", "aci", "--aci-client-dir", filepath.Join(env.StateDir, "instances"),
			"--internal-ip", env.Advertise, "--port", strconv.Itoa(ports.Kubelet),
			"--kubelet-cert", filepath.Join(env.StateDir, "pki", "node-serving.crt"),
			"--kubelet-key", filepath.Join(env.StateDir, "pki", "node-serving.key"),
			"--metrics-addr", "127.0.0.1:"+strconv.Itoa(ports.NodeMetrics))
		log, err := os.Create(filepath.Join(t.TempDir(), "node.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	agent := start()
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	})

	const replicas = 20
	labels := map[string]string{"app": "burst"}
	pod := virtualPod("burst", corev1.Container{Name: "web", Image: env.Regs.Images.Hello})
	pod.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": node}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "burst"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod.Spec}},
	}
	ctx := context.Background()
	if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Mid-burst: as soon as some pods run.
	runningWhenKilled := 0
	framework.WaitFor(t, "the first pods Running", 3*time.Minute, func() (bool, error) {
		n, _, err := framework.CountReadyPods(ctx, env.Client, ns)
		runningWhenKilled = n
		return err == nil && n >= 2, fmt.Errorf("%d pods Running (%v)", n, err)
	})
	if err := agent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = agent.Wait()
	before := map[string]string{} // group name → its container's start time, for those running
	for _, g := range serviceGroups(t) {
		if tag := g.Tags["Namespace"]; tag == nil || *tag != ns {
			continue
		}
		full := getGroup(t, *g.Name)
		if st := startTime(full); st != "" {
			before[*g.Name] = st
		}
	}
	if len(before) < runningWhenKilled {
		t.Fatalf("%d groups found running after the kill, fewer than the %d pods Running before it", len(before), runningWhenKilled)
	}
	start()
	waitRunningPods(t, ns, replicas, 5*time.Minute)
	groups := groupsOfNamespace(t, ns)
	if len(groups) != replicas {
		t.Errorf("%d groups for %d pods: %v", len(groups), replicas, groups)
	}
	for name, st := range before {
		g := getGroup(t, name)
		if got := startTime(g); got != st {
			t.Errorf("group %s was restarted across the agent's restart: started %s, now %s", name, st, got)
		}
		if c := g.Properties.Containers[0].Properties.InstanceView; c == nil || ptr.Deref(c.RestartCount, 0) != 0 {
			t.Errorf("group %s's container restarted", name)
		}
	}
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s: %s", p.Name, containerSummary(&p))
		}
	}
	t.Logf("%d of %d groups were running just after the agent was killed, %d pods Running when it was", len(before), replicas, runningWhenKilled)
	// Scale in: the second node's groups go too.
	if err := framework.Scale(ctx, env.Client, ns, "burst", 0); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the burst's groups gone", 3*time.Minute, func() (bool, error) {
		left := groupsOfNamespace(t, ns)
		return len(left) == 0, fmt.Errorf("groups left: %s", strings.Join(left, " "))
	})
}

// groupsClient is an SDK client of the stack's service and its resource group.
func groupsClient(t *testing.T) (*aci.ContainerGroupsClient, string) {
	t.Helper()
	files, err := wire.LoadClientFiles(filepath.Join(env.StateDir, "instances"))
	if err != nil {
		t.Fatal(err)
	}
	factory, err := files.ClientFactory(3)
	if err != nil {
		t.Fatal(err)
	}
	return factory.NewContainerGroupsClient(), files.ResourceGroup
}

func getGroup(t *testing.T, name string) *aci.ContainerGroup {
	t.Helper()
	groups, rg := groupsClient(t)
	g, err := groups.Get(context.Background(), rg, name, nil)
	if err != nil {
		t.Fatalf("get group %s: %v", name, err)
	}
	return &g.ContainerGroup
}

// startTime is the first container's current start time while it runs.
func startTime(g *aci.ContainerGroup) string {
	if len(g.Properties.Containers) == 0 {
		return ""
	}
	iv := g.Properties.Containers[0].Properties.InstanceView
	if iv == nil || iv.CurrentState == nil || ptr.Deref(iv.CurrentState.State, "") != "Running" || iv.CurrentState.StartTime == nil {
		return ""
	}
	return iv.CurrentState.StartTime.String()
}
