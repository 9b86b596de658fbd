package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"

	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

func getNode(t *testing.T) *corev1.Node {
	t.Helper()
	n, err := env.client.CoreV1().Nodes().Get(context.Background(), nodectl.DefaultNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func nodeReady(n *corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestNodeIsRegisteredAsAKSVirtualNode(t *testing.T) {
	n := getNode(t)
	if n.Labels["type"] != "virtual-kubelet" || n.Labels["kubernetes.io/role"] != "agent" || n.Labels["topology.kubernetes.io/region"] != "e2e" {
		t.Errorf("labels %v", n.Labels)
	}
	hasTaint := func(n *corev1.Node, key string) bool {
		for _, taint := range n.Spec.Taints {
			if taint.Key == key {
				return true
			}
		}
		return false
	}
	if !hasTaint(n, "virtual-kubelet.io/provider") {
		t.Errorf("taints %v lack virtual-kubelet.io/provider", n.Spec.Taints)
	}
	if nodeReady(n).Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", nodeReady(n))
	}
	// The API server taints new nodes not-ready; the node lifecycle
	// controller lifts it once it sees the node Ready.
	framework.WaitFor(t, "the not-ready taint lifted", time.Minute, func() (bool, error) {
		return !hasTaint(getNode(t), "node.kubernetes.io/not-ready"), nil
	})
	if n.Status.Capacity.Pods().Value() != 5000 {
		t.Errorf("pod capacity %v", n.Status.Capacity.Pods())
	}
	lease, err := env.client.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), n.Name, metav1.GetOptions{})
	if err != nil || *lease.Spec.HolderIdentity != n.Name {
		t.Errorf("lease %+v, %v", lease, err)
	}
}

// The AKS sample Deployment scaled to 50 runs on the virtual node; a pod
// without the toleration is not scheduled there.
func TestAKSSampleRunsAndUntoleratedPodStaysOff(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, aksSample(50), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	intolerant := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "intolerant"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"type": "virtual-kubelet"},
			Containers:   []corev1.Container{{Name: "c", Image: "localhost:5000/hello:latest"}},
		},
	}
	if _, err := env.client.CoreV1().Pods(ns).Create(ctx, intolerant, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "50 sample pods Running and Ready", 3*time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return countRunningReady(pods) == 50, err
	})
	pods, err := podsIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, p := range pods {
		if p.Name == "intolerant" {
			continue
		}
		if p.Status.PodIP == "" || ips[p.Status.PodIP] || len(p.Status.ContainerStatuses) != 1 || !p.Status.ContainerStatuses[0].Ready {
			t.Errorf("pod %s: IP %q (duplicate %v), statuses %+v", p.Name, p.Status.PodIP, ips[p.Status.PodIP], p.Status.ContainerStatuses)
		}
		ips[p.Status.PodIP] = true
	}
	framework.WaitFor(t, "the intolerant pod marked unschedulable", time.Minute, func() (bool, error) {
		p, err := env.client.CoreV1().Pods(ns).Get(ctx, "intolerant", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && p.Spec.NodeName == "" {
				return strings.Contains(c.Message, "untolerated taint"), nil
			}
		}
		return false, nil
	})
}

// Deleting a pod with a 30 s grace period ends as soon as the backend has
// stopped the containers (the memory backend takes 1 s), not after 30 s.
func TestDeletionEndsWhenContainersStop(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, aksSample(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "3 pods running", time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return countRunningReady(pods) == 3, err
	})
	pods, err := podsIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	victim := pods[0]
	if err := env.client.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](30)}); err != nil {
		t.Fatal(err)
	}
	// Half the grace period is the deadline: waiting for the grace period
	// would fail this, while the backend's 1 s stop passes with room to spare.
	framework.WaitFor(t, "the pod to be gone", 15*time.Second, func() (bool, error) {
		_, err := env.client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
		return err != nil && strings.Contains(err.Error(), "not found"), nil
	})
	events, err := env.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", victim.Name).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range events.Items {
		reasons[e.Reason] = true
	}
	for _, want := range []string{"Created", "Started", "Killing"} {
		if !reasons[want] {
			t.Errorf("no %s event for the pod; got %v", want, reasons)
		}
	}
}

// A backend outage turns the node NotReady with a reason, and its end
// turns it Ready again.
func TestBackendHealthFlipsReady(t *testing.T) {
	env.backend.SetHealth(errors.New("e2e outage"))
	t.Cleanup(func() { env.backend.SetHealth(nil) })
	framework.WaitFor(t, "Ready=False", time.Minute, func() (bool, error) {
		r := nodeReady(getNode(t))
		return r.Status == corev1.ConditionFalse && r.Reason == "BackendUnhealthy" && strings.Contains(r.Message, "e2e outage"), nil
	})
	env.backend.SetHealth(nil)
	framework.WaitFor(t, "Ready=True", time.Minute, func() (bool, error) {
		return nodeReady(getNode(t)).Status == corev1.ConditionTrue, nil
	})
}

// A pod whose mandatory Secret is missing waits with the kubelet's reason
// and event, and starts once the Secret is created.
func TestMissingSecretThenCreated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	d := aksSample(1)
	d.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"},
	}}}
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "CreateContainerConfigError and a Failed event", time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		if err != nil || len(pods) != 1 {
			return false, err
		}
		st := pods[0].Status.ContainerStatuses
		if len(st) != 1 || st[0].State.Waiting == nil || st[0].State.Waiting.Reason != "CreateContainerConfigError" {
			return false, nil
		}
		events, err := env.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "Failed" && e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, `secret "db" not found`) {
				return true, nil
			}
		}
		return false, nil
	})
	_, err := env.client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": "hunter2"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the pod Running", time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return err == nil && countRunningReady(pods) == 1, err
	})
	pods, _ := podsIn(ns)
	w := env.backend.Workload(pods[0].UID)
	if w == nil {
		t.Fatal("the backend has no workload for the pod")
	}
}

// A DaemonSet that tolerates everything gets its pod refused on the
// virtual node, with a reason and an event, and nothing runs.
func TestDaemonSetPodRefused(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	labels := map[string]string{"app": "everywhere"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "everywhere"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers:  []corev1.Container{{Name: "c", Image: "localhost:5000/hello:latest"}},
				},
			},
		},
	}
	if _, err := env.client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the DaemonSet pod refused", time.Minute, func() (bool, error) {
		events, err := env.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "DaemonSetNotSupported" {
				return true, nil
			}
		}
		return false, nil
	})
	pods, err := podsIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if env.backend.Workload(p.UID) != nil {
			t.Errorf("DaemonSet pod %s runs in the backend", p.Name)
		}
		if p.Status.Phase == corev1.PodRunning {
			t.Errorf("DaemonSet pod %s is Running", p.Name)
		}
	}
}

// The agent stopped abruptly in the middle of a 200-pod burst and started
// again on the same backend adopts what runs: every pod ends Running, no
// workload is created twice, and scaling to 0 leaves nothing behind.
func TestAgentRestartMidBurst(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createsBefore := env.backend.Creates()
	if _, err := env.client.AppsV1().Deployments(ns).Create(ctx, aksSample(200), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.WaitFor(t, "the burst under way", time.Minute, func() (bool, error) {
		return env.backend.Creates()-createsBefore >= 50, nil
	})
	env.agent.stop()
	created := env.backend.Creates() - createsBefore
	t.Logf("agent stopped after %d of 200 workloads were created", created)
	restarted, err := startAgent(env.backend)
	if err != nil {
		t.Fatal(err)
	}
	env.agent = restarted

	framework.WaitFor(t, "200 pods Running and Ready", 3*time.Minute, func() (bool, error) {
		pods, err := podsIn(ns)
		return countRunningReady(pods) == 200, err
	})
	if got := env.backend.Creates() - createsBefore; got != 200 {
		t.Errorf("the backend created %d workloads for 200 pods", got)
	}
	pods, err := podsIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	scale(t, ns, "aci-helloworld", 0)
	framework.WaitFor(t, "every pod and workload gone", 3*time.Minute, func() (bool, error) {
		left, err := podsIn(ns)
		if err != nil || len(left) > 0 {
			return false, err
		}
		for _, p := range pods {
			if env.backend.Workload(p.UID) != nil {
				return false, fmt.Errorf("workload of %s still exists", p.Name)
			}
		}
		return true, nil
	})
}
