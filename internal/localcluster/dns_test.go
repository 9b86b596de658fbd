package localcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestDescribeDNSPodsSaysWhyCoreDNSIsNotUp(t *testing.T) {
	ctx := context.Background()
	if got := describeDNSPods(ctx, fake.NewClientset()); got != "no CoreDNS pod exists" {
		t.Errorf("without pods: %q", got)
	}

	pending := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-abc", Namespace: dnsNamespace, Labels: map[string]string{"k8s-app": dnsAppLabel}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/1 nodes are available: 1 node(s) were unschedulable.",
		}}},
	}
	creating := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-def", Namespace: dnsNamespace, Labels: map[string]string{"k8s-app": dnsAppLabel}},
		Spec:       corev1.PodSpec{NodeName: "virtual-node-aci-linux"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "coredns", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ProviderFailed", Message: "image not found"}},
		}}},
	}
	event := func(name, typ, reason string) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name + "." + reason, Namespace: dnsNamespace},
			InvolvedObject: corev1.ObjectReference{Name: name}, Type: typ, Reason: reason, Message: reason + " happened",
		}
	}
	client := fake.NewClientset(pending, creating,
		event("coredns-def", corev1.EventTypeWarning, "ProviderFailed"),
		event("coredns-def", corev1.EventTypeNormal, "Scheduled"),
		event("kube-proxy", corev1.EventTypeWarning, "Unrelated"))
	got := describeDNSPods(ctx, client)
	for _, want := range []string{
		`pod coredns-abc Pending on node ""`, "PodScheduled: 0/1 nodes are available",
		`pod coredns-def Pending on node "virtual-node-aci-linux"`, "coredns waiting: ProviderFailed image not found",
		"coredns-def ProviderFailed: ProviderFailed happened",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("description lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"Scheduled happened", "Unrelated"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("description has %q:\n%s", unwanted, got)
		}
	}
}

func TestDescribeDNSPodsKeepsTheLatestThreeWarnings(t *testing.T) {
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	warning := func(reason string, minute int) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "coredns." + reason, Namespace: dnsNamespace},
			InvolvedObject: corev1.ObjectReference{Name: "coredns-abc"}, Type: corev1.EventTypeWarning, Reason: reason,
			LastTimestamp: metav1.NewTime(base.Add(time.Duration(minute) * time.Minute)),
		}
	}
	// Listed by name, the oldest would come last.
	client := fake.NewClientset(warning("A", 4), warning("B", 3), warning("C", 2), warning("D", 1))
	got := describeDNSPods(context.Background(), client)
	for _, want := range []string{"coredns-abc A", "coredns-abc B", "coredns-abc C"} {
		if !strings.Contains(got, want) {
			t.Errorf("description lacks %q: %s", want, got)
		}
	}
	if strings.Contains(got, "coredns-abc D") {
		t.Errorf("description keeps the oldest warning: %s", got)
	}
}
