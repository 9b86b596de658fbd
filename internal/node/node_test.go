package node

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

type fakeProvider struct {
	mu     sync.Mutex
	health error
	cpu    string
}

func (p *fakeProvider) Capacity(context.Context) (corev1.ResourceList, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(p.cpu), corev1.ResourcePods: resource.MustParse("100")}, nil
}

func (p *fakeProvider) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.health
}

func (p *fakeProvider) set(health error, cpu string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.health, p.cpu = health, cpu
}

func newController(t *testing.T, client *fake.Clientset, p *fakeProvider, clk *clocktesting.FakeClock) *Controller {
	t.Helper()
	taint := DefaultTaint()
	c, err := NewController(ControllerConfig{
		Client: client, Provider: p, Region: "local", Taint: &taint,
		InternalIP: "192.0.2.2", RuntimeVersion: "memory://v1", Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getNode(t *testing.T, client *fake.Clientset) *corev1.Node {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), DefaultNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readyCondition(n *corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestRegisterCreatesNode(t *testing.T) {
	client := fake.NewClientset()
	c := newController(t, client, &fakeProvider{cpu: "10"}, clocktesting.NewFakeClock(time.Now()))
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, client)
	for k, v := range map[string]string{
		"type": "virtual-kubelet", "kubernetes.io/role": "agent", "kubernetes.io/os": "linux",
		"beta.kubernetes.io/os": "linux", "kubernetes.io/hostname": DefaultNodeName,
		"node.kubernetes.io/exclude-from-external-load-balancers": "true", "topology.kubernetes.io/region": "local",
	} {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != DefaultTaint() {
		t.Errorf("taints %v", n.Spec.Taints)
	}
	if got := n.Status.Capacity.Cpu().String(); got != "10" {
		t.Errorf("capacity cpu %s", got)
	}
	if ready := readyCondition(n); ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" {
		t.Errorf("Ready condition %+v", ready)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 || n.Status.Addresses[0].Address != "192.0.2.2" {
		t.Errorf("endpoints %+v, addresses %+v", n.Status.DaemonEndpoints, n.Status.Addresses)
	}
	if n.Status.NodeInfo.KubeletVersion == "" || n.Status.NodeInfo.ContainerRuntimeVersion != "memory://v1" {
		t.Errorf("node info %+v", n.Status.NodeInfo)
	}
	lease, err := client.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), DefaultNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.LeaseDurationSeconds != 40 || *lease.Spec.HolderIdentity != DefaultNodeName || len(lease.OwnerReferences) != 1 {
		t.Errorf("lease %+v", lease)
	}
}

func TestRegisterKeepsWhatOthersSet(t *testing.T) {
	foreignTaint := corev1.Taint{Key: "example.com/maintenance", Effect: corev1.TaintEffectNoExecute}
	existing := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        DefaultNodeName,
			Labels:      map[string]string{"team": "a"},
			Annotations: map[string]string{"note": "keep"},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{foreignTaint}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: "example.com/Custom", Status: corev1.ConditionTrue, Reason: "Set"},
		}},
	}
	client := fake.NewClientset(existing)
	c := newController(t, client, &fakeProvider{cpu: "10"}, clocktesting.NewFakeClock(time.Now()))
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, client)
	if n.Labels["team"] != "a" || n.Labels["type"] != "virtual-kubelet" || n.Annotations["note"] != "keep" {
		t.Errorf("labels %v annotations %v", n.Labels, n.Annotations)
	}
	if len(n.Spec.Taints) != 2 {
		t.Errorf("taints %v, want the foreign one and ours", n.Spec.Taints)
	}
	found := false
	for _, cond := range n.Status.Conditions {
		found = found || cond.Type == "example.com/Custom"
	}
	if !found || readyCondition(n).Status != corev1.ConditionTrue {
		t.Errorf("conditions %+v", n.Status.Conditions)
	}
	// Registering again changes nothing.
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := getNode(t, client); len(again.Spec.Taints) != 2 {
		t.Errorf("taints after a second register: %v", again.Spec.Taints)
	}
}

func TestRunFlipsReadyWithHealthAndRenewsLease(t *testing.T) {
	client := fake.NewClientset()
	p := &fakeProvider{cpu: "10"}
	clk := clocktesting.NewFakeClock(time.Now())
	c := newController(t, client, p, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Register(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitTickers(t, clk)
	p.set(errors.New("service down"), "10")
	stepUntil(t, clk, DefaultHealthInterval, "Ready=False", func() bool {
		r := readyCondition(getNode(t, client))
		return r.Status == corev1.ConditionFalse && r.Reason == "BackendUnhealthy"
	})
	p.set(nil, "20")
	stepUntil(t, clk, DefaultHealthInterval, "Ready=True with new capacity", func() bool {
		n := getNode(t, client)
		return readyCondition(n).Status == corev1.ConditionTrue && n.Status.Capacity.Cpu().String() == "20"
	})
	before, _ := client.CoordinationV1().Leases(LeaseNamespace).Get(ctx, DefaultNodeName, metav1.GetOptions{})
	stepUntil(t, clk, DefaultRenewInterval, "lease renewal", func() bool {
		after, _ := client.CoordinationV1().Leases(LeaseNamespace).Get(ctx, DefaultNodeName, metav1.GetOptions{})
		return after.Spec.RenewTime.After(before.Spec.RenewTime.Time)
	})
}

// waitTickers waits until Run has created its tickers.
func waitTickers(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("tickers not started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stepUntil advances the fake clock by step until cond holds.
func stepUntil(t *testing.T, clk *clocktesting.FakeClock, step time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		clk.Step(step)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConditionsKeepTransitionTime(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	first := conditions(observation{}, nil, t0)
	same := conditions(observation{}, first, t1)
	if !same[0].LastTransitionTime.Equal(&t0) || !same[0].LastHeartbeatTime.Equal(&t1) {
		t.Errorf("unchanged Ready: transition %v heartbeat %v", same[0].LastTransitionTime, same[0].LastHeartbeatTime)
	}
	flipped := conditions(observation{healthErr: errors.New("x")}, first, t1)
	if !flipped[0].LastTransitionTime.Equal(&t1) {
		t.Errorf("flipped Ready kept transition time %v", flipped[0].LastTransitionTime)
	}
}

// Registration keeps trying while the API server refuses, as the kubelet's.
func TestRegisterRetriesUntilTheAPIServerAnswers(t *testing.T) {
	client := fake.NewClientset()
	failures := 0
	client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures < 2 {
			failures++
			return true, nil, apierrors.NewServiceUnavailable("apiserver starting")
		}
		return false, nil, nil
	})
	taint := DefaultTaint()
	c, err := NewController(ControllerConfig{
		Client: client, Provider: &fakeProvider{cpu: "1"}, Taint: &taint, RetryInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	if failures != 2 {
		t.Errorf("%d failed attempts, want 2 before success", failures)
	}
	getNode(t, client)

	// A cancelled context ends the retries with an error naming the cause.
	client.PrependReactor("create", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("still starting")
	})
	if err := client.CoreV1().Nodes().Delete(context.Background(), DefaultNodeName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Register(ctx); err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Errorf("Register with a cancelled context: %v", err)
	}
}

// As the node's own identity, NodeRestriction refuses kubernetes.io/role:
// the agent registers without it rather than not at all.
func TestRegisterWithoutRestrictedLabels(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		n := a.(k8stesting.CreateAction).GetObject().(*corev1.Node)
		if _, ok := n.Labels["kubernetes.io/role"]; ok {
			return true, nil, apierrors.NewForbidden(corev1.Resource("nodes"), n.Name,
				errors.New(`is not allowed to set the following labels: kubernetes.io/role`))
		}
		return false, nil, nil
	})
	c := newController(t, client, &fakeProvider{cpu: "10"}, clocktesting.NewFakeClock(time.Now()))
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := getNode(t, client)
	if _, ok := n.Labels["kubernetes.io/role"]; ok || n.Labels["type"] != "virtual-kubelet" ||
		n.Labels["node.kubernetes.io/exclude-from-external-load-balancers"] != "true" || n.Labels["kubernetes.io/os"] != "linux" {
		t.Errorf("labels %v", n.Labels)
	}
}

func TestRestrictedLabel(t *testing.T) {
	for key, want := range map[string]bool{
		"kubernetes.io/role": true, "node-role.kubernetes.io/agent": true, "example.k8s.io/x": true,
		"kubernetes.io/os": false, "topology.kubernetes.io/region": false, "type": false,
		"node.kubernetes.io/exclude-from-external-load-balancers": false, "foo.kubelet.kubernetes.io/x": false,
		"example.com/x": false,
	} {
		if got := restrictedLabel(key); got != want {
			t.Errorf("restrictedLabel(%q) = %v, want %v", key, got, want)
		}
	}
}
