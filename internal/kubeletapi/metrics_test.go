package kubeletapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	kubeletconfigv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
)

// metricsFixture serves the fixture's backend with the agent's metrics,
// the node's capacity and its configuration, for pod ns/p whose status
// says its container runs.
func metricsFixture(t *testing.T) *httptest.Server {
	t.Helper()
	f := newFixture(t)
	pod := testPod("p")
	pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.5", ContainerStatuses: []corev1.ContainerStatus{{
		Name: "app", Image: "registry.local/hello:1", ContainerID: "vnode://abc123",
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	agent := prometheus.NewRegistry()
	agent.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "vnode_test_total", Help: "A metric of the agent."}))
	h, err := NewHandler(HandlerConfig{
		NodeName: testNode, Pods: fakePods{"ns/p": pod}, Backend: f.backend, Authenticator: headerAuth{}, Authorizer: userAuthz{},
		Clock: f.clock, Metrics: agent,
		Capacity: func() corev1.ResourceList {
			return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}
		},
		Configz: &kubeletconfigv1beta1.KubeletConfiguration{MaxPods: 500, ClusterDomain: "cluster.local"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%v in %q", err, body)
	}
	return families
}

// sample returns the value of the one sample of name whose labels include
// want, or fails.
func sample(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	fam, ok := families[name]
	if !ok {
		t.Errorf("%s missing", name)
		return 0
	}
next:
	for _, m := range fam.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		return m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	t.Errorf("%s has no sample with %v: %v", name, want, fam.Metric)
	return 0
}

func TestKubeletMetrics(t *testing.T) {
	srv := metricsFixture(t)
	code, body := get(t, srv, "admin", "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d %q", code, body)
	}
	m := parseMetrics(t, body)
	if v := sample(t, m, "kubelet_node_name", map[string]string{"node": testNode}); v != 1 {
		t.Errorf("kubelet_node_name = %v", v)
	}
	if v := sample(t, m, "kubelet_running_pods", nil); v != 1 {
		t.Errorf("kubelet_running_pods = %v", v)
	}
	if v := sample(t, m, "kubelet_running_containers", map[string]string{"container_state": "running"}); v != 1 {
		t.Errorf("running containers = %v", v)
	}
	if v := sample(t, m, "kubelet_running_containers", map[string]string{"container_state": "exited"}); v != 0 {
		t.Errorf("exited containers = %v", v)
	}
	if _, ok := m["vnode_test_total"]; !ok {
		t.Errorf("the agent's metrics are missing from /metrics")
	}
	// nodes/metrics is required, as on the kubelet.
	if code, _ := get(t, srv, "reader", "/metrics"); code != http.StatusForbidden {
		t.Errorf("/metrics for a user without nodes/metrics = %d", code)
	}
}

func TestCadvisorMetrics(t *testing.T) {
	srv := metricsFixture(t)
	code, body := get(t, srv, "admin", "/metrics/cadvisor")
	if code != http.StatusOK {
		t.Fatalf("/metrics/cadvisor = %d %q", code, body)
	}
	m := parseMetrics(t, body)
	app := map[string]string{"container": "app", "pod": "p", "namespace": "ns", "image": "registry.local/hello:1",
		"name": "abc123", "id": "/vnode/uid-p/abc123"}
	for _, name := range []string{"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
		"container_memory_usage_bytes", "container_memory_rss", "container_start_time_seconds"} {
		if v := sample(t, m, name, app); v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
	if v := sample(t, m, "container_cpu_usage_seconds_total", map[string]string{"container": "app", "cpu": "total"}); v <= 0 {
		t.Errorf("cpu total = %v", v)
	}
	if v := sample(t, m, "container_spec_memory_limit_bytes", app); v != 64<<20 {
		t.Errorf("memory limit = %v", v)
	}
	if ws, use := sample(t, m, "container_memory_working_set_bytes", app), sample(t, m, "container_memory_usage_bytes", app); use < ws {
		t.Errorf("usage %v below the working set %v", use, ws)
	}
	sandbox := map[string]string{"container": "", "pod": "p", "namespace": "ns", "interface": "eth0", "name": "uid-p"}
	for _, name := range []string{"container_network_receive_bytes_total", "container_network_transmit_bytes_total"} {
		if v := sample(t, m, name, sandbox); v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
	}
	if v := sample(t, m, "machine_cpu_cores", nil); v != 8 {
		t.Errorf("machine_cpu_cores = %v", v)
	}
	if v := sample(t, m, "machine_memory_bytes", nil); v != 32<<30 {
		t.Errorf("machine_memory_bytes = %v", v)
	}
}

func TestConfigz(t *testing.T) {
	srv := metricsFixture(t)
	code, body := get(t, srv, "admin", "/configz")
	var got struct {
		KubeletConfig kubeletconfigv1beta1.KubeletConfiguration `json:"kubeletconfig"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
		t.Fatalf("/configz = %d %q (%v)", code, body, err)
	}
	if got.KubeletConfig.MaxPods != 500 || got.KubeletConfig.ClusterDomain != "cluster.local" {
		t.Errorf("/configz: %+v", got.KubeletConfig)
	}
	if code, _ := get(t, srv, "reader", "/configz"); code != http.StatusForbidden {
		t.Errorf("/configz for a user without nodes/proxy or nodes/configz = %d", code)
	}
	// Without a configuration the route is absent, as on a kubelet without
	// configz.
	f := newFixture(t)
	if code, _ := get(t, f.server, "admin", "/configz"); code != http.StatusNotFound {
		t.Errorf("/configz without a configuration = %d", code)
	}
}

// probing adds probe counts to a memory backend's stats, as vnode's
// service reports them.
type probing struct{ *memory.Backend }

func (p probing) Stats(ctx context.Context) ([]backend.PodStats, error) {
	stats, err := p.Backend.Stats(ctx)
	for i := range stats {
		for j := range stats[i].Containers {
			stats[i].Containers[j].Probes = []backend.ProbeCount{
				{Probe: "Readiness", Result: "successful", Count: 7}, {Probe: "Liveness", Result: "failed", Count: 2}}
		}
	}
	return stats, err
}

func TestProberMetrics(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, probing{f.backend}, fakePods{"ns/p": testPod("p")}, f.clock)
	code, body := get(t, srv, "admin", "/metrics/probes")
	if code != http.StatusOK {
		t.Fatalf("/metrics/probes = %d %q", code, body)
	}
	m := parseMetrics(t, body)
	pod := map[string]string{"container": "app", "namespace": "ns", "pod": "p", "pod_uid": "uid-p"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range pod {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	if v := sample(t, m, "prober_probe_total", with("probe_type", "Readiness", "result", "successful")); v != 7 {
		t.Errorf("successful readiness probes = %v", v)
	}
	if v := sample(t, m, "prober_probe_total", with("probe_type", "Liveness", "result", "failed")); v != 2 {
		t.Errorf("failed liveness probes = %v", v)
	}
	if code, _ := get(t, srv, "reader", "/metrics/probes"); code != http.StatusForbidden {
		t.Errorf("/metrics/probes for a user without nodes/metrics = %d", code)
	}
}
