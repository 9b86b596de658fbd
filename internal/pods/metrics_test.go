package pods

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/vnode-io/vnode/internal/backend/memory"
)

func TestMetricsAreRecorded(t *testing.T) {
	reg := prometheus.NewRegistry()
	b, _ := memory.New(memory.Config{})
	client := fake.NewClientset(newPod("web"))
	ctrl, err := NewController(ControllerConfig{
		Client: client, Backend: b, NodeName: testNode, Recorder: record.NewFakeRecorder(100),
		Metrics: NewMetrics(reg),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ctrl.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	values := func() map[string]float64 {
		out := map[string]float64{}
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				switch {
				case m.GetCounter() != nil:
					out[f.GetName()] += m.GetCounter().GetValue()
				case m.GetHistogram() != nil:
					out[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
				case m.GetGauge() != nil:
					if len(m.GetLabel()) == 1 {
						out[f.GetName()+"{"+m.GetLabel()[0].GetValue()+"}"] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := values()
		if v["vnode_pod_bound_to_running_seconds"] == 1 && v["vnode_pods{Running}"] == 1 &&
			v["vnode_pod_queue_adds_total"] > 0 && v["vnode_pod_queue_latency_seconds"] > 0 &&
			v["vnode_pod_sync_duration_seconds"] > 0 && v["vnode_api_request_duration_seconds"] == 0 {
			return // the fake clientset makes no HTTP requests, so no API latency
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics %v", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
