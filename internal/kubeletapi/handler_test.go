package kubeletapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/vnode-io/vnode/internal/backend"
)

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, user, path string
		code             int
		body             string
	}{
		{"healthz needs no credentials", "", "/healthz", http.StatusOK, "ok"},
		{"anonymous", "", "/pods", http.StatusUnauthorized, "Unauthorized"},
		{"anonymous stats", "", "/stats/summary", http.StatusUnauthorized, "Unauthorized"},
		{"not allowed", "nobody", "/pods", http.StatusForbidden, "Forbidden (user=nobody, verb=get, resource=nodes, subresource(s)=[pods proxy])"},
		{"allowed elsewhere", "reader", "/containerLogs/ns/p/app", http.StatusForbidden, "subresource(s)=[proxy]"},
		{"allowed", "reader", "/stats/summary", http.StatusOK, `"nodeName":"vn"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, f.server, tt.user, tt.path)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s as %q = %d %q; want %d with %q", tt.path, tt.user, code, body, tt.code, tt.body)
			}
		})
	}
}

func TestContainerLogs(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path string
		code int
		body string
	}{
		{"/containerLogs/ns/p/app", http.StatusOK, "starting container app (image hello)\nrun 1 of pod ns/p\nready\n"},
		{"/containerLogs/ns/p/app?tailLines=1&timestamps=true", http.StatusOK, "2030-01-02T03:04:05Z ready\n"},
		{"/containerLogs/ns/p/app?tail=1", http.StatusOK, "ready\n"},
		{"/containerLogs/ns/p/app?limitBytes=8", http.StatusOK, "starting"},
		{"/containerLogs/ns/p/app?sinceSeconds=1", http.StatusOK, "starting container app (image hello)\nrun 1 of pod ns/p\nready\n"},
		{"/containerLogs/ns/p/app?sinceTime=2030-01-02T03:04:06Z", http.StatusOK, ""},
		{"/containerLogs/ns/p/app?previous=true", http.StatusBadRequest, "previous terminated container"},
		{"/containerLogs/ns/p/app?tailLines=x", http.StatusBadRequest, "tailLines"},
		{"/containerLogs/ns/p/app?sinceSeconds=0", http.StatusBadRequest, "sinceSeconds"},
		{"/containerLogs/ns/p/app?sinceSeconds=1&sinceTime=2030-01-02T03:04:06Z", http.StatusBadRequest, "at most one"},
		{"/containerLogs/ns/missing/app", http.StatusNotFound, "pod ns/missing does not exist"},
		{"/containerLogs/ns/p/nope", http.StatusNotFound, "container nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, f.server, "admin", tt.path)
			if code != tt.code || (code == http.StatusOK && body != tt.body) || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s = %d %q; want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
}

func TestPodsAndRunningPods(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/pods", "/runningpods/"} {
		code, body := get(t, f.server, "admin", path)
		var list corev1.PodList
		if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
			t.Fatalf("GET %s = %d %q (%v)", path, code, body, err)
		}
		if list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "p" || list.Items[0].UID != "uid-p" ||
			len(list.Items[0].Spec.Containers) != 1 {
			t.Errorf("GET %s = %+v", path, list)
		}
	}
}

func TestStatsSummaryAndResourceMetrics(t *testing.T) {
	f := newFixture(t)
	code, body := get(t, f.server, "admin", "/stats/summary")
	var s statsv1alpha1.Summary
	if err := json.Unmarshal([]byte(body), &s); code != http.StatusOK || err != nil {
		t.Fatalf("summary = %d %q (%v)", code, body, err)
	}
	if len(s.Pods) != 1 || len(s.Pods[0].Containers) != 1 || *s.Node.CPU.UsageNanoCores == 0 ||
		*s.Node.Memory.WorkingSetBytes != *s.Pods[0].Containers[0].Memory.WorkingSetBytes {
		t.Errorf("summary %s", body)
	}

	code, body = get(t, f.server, "admin", "/metrics/resource")
	if code != http.StatusOK {
		t.Fatalf("metrics = %d %q", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node_cpu_usage_seconds_total", "node_memory_working_set_bytes", "container_cpu_usage_seconds_total",
		"container_memory_working_set_bytes", "container_start_time_seconds", "pod_cpu_usage_seconds_total", "pod_memory_working_set_bytes"} {
		fam, ok := families[name]
		if !ok || len(fam.Metric) != 1 {
			t.Errorf("%s missing: %v", name, fam)
			continue
		}
		m := fam.Metric[0]
		v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
		if v <= 0 {
			t.Errorf("%s = %v", name, v)
		}
		if strings.HasPrefix(name, "container_") {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["container"] != "app" || labels["pod"] != "p" || labels["namespace"] != "ns" {
				t.Errorf("%s labels %v", name, labels)
			}
		}
	}
	if fam := families["scrape_error"]; fam == nil || fam.Metric[0].GetGauge().GetValue() != 0 {
		t.Errorf("scrape_error %v", fam)
	}
}

// ioless is a backend without ContainerIO.
type ioless struct{ backend.Backend }

func TestBackendWithoutContainerIOGets501(t *testing.T) {
	f := newFixture(t)
	srv := serve(t, ioless{f.backend}, fakePods{"ns/p": testPod("p")}, f.clock)
	for _, path := range []string{"/containerLogs/ns/p/app", "/stats/summary", "/metrics/resource", "/exec/ns/p/app?command=true&output=1"} {
		code, body := get(t, srv, "admin", path)
		if code != http.StatusNotImplemented || !strings.Contains(body, "not supported") {
			t.Errorf("GET %s = %d %q", path, code, body)
		}
	}
	if code, _ := get(t, srv, "admin", "/pods"); code != http.StatusOK {
		t.Errorf("/pods = %d", code)
	}
}
