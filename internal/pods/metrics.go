package pods

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Metrics are the pod controller's Prometheus metrics.
type Metrics struct {
	podsByPhase  *prometheus.GaugeVec
	queueDepth   prometheus.Gauge
	syncDuration prometheus.Histogram
	syncErrors   prometheus.Counter
	podStart     prometheus.Histogram
	deletions    prometheus.Counter
	apiRequests  *prometheus.HistogramVec

	mu        sync.Mutex
	firstSeen map[types.UID]time.Time
}

// NewMetrics creates the metrics and registers them with reg (none when nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		podsByPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vnode_pods", Help: "Pods bound to the node, by phase.",
		}, []string{"phase"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vnode_pod_queue_depth", Help: "Pods waiting in the work queue.",
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vnode_pod_sync_duration_seconds", Help: "Time to sync one pod.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		syncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vnode_pod_sync_errors_total", Help: "Pod syncs that failed and were retried.",
		}),
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vnode_pod_bound_to_running_seconds",
			Help:    "Time from the agent seeing a pod bound to its node until it wrote the pod Running.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		deletions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vnode_pod_deletions_total", Help: "Pods deleted from the API after their containers stopped.",
		}),
		apiRequests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vnode_api_request_duration_seconds", Help: "Latency of the agent's requests to the API server.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"verb", "code"}),
		firstSeen: map[types.UID]time.Time{},
	}
	if reg != nil {
		reg.MustRegister(m.podsByPhase, m.queueDepth, m.syncDuration, m.syncErrors, m.podStart, m.deletions, m.apiRequests)
	}
	return m
}

// observeStatus records the first time a pod is written Running.
func (m *Metrics) observeStatus(pod *corev1.Pod, status *corev1.PodStatus, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen, ok := m.firstSeen[pod.UID]
	if !ok {
		m.firstSeen[pod.UID] = now
		seen = now
	}
	if status.Phase == corev1.PodRunning && pod.Status.Phase != corev1.PodRunning {
		m.podStart.Observe(now.Sub(seen).Seconds())
	}
}

// seen notes when the agent first saw a pod.
func (m *Metrics) seen(uid types.UID, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.firstSeen[uid]; !ok {
		m.firstSeen[uid] = now
	}
}

func (m *Metrics) observeDeleted(pod *corev1.Pod, _ time.Time) {
	m.deletions.Inc()
	m.mu.Lock()
	delete(m.firstSeen, pod.UID)
	m.mu.Unlock()
}

// WrapTransport instruments an HTTP transport to the API server; use it as
// rest.Config.WrapTransport.
func (m *Metrics) WrapTransport(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		verb := req.Method
		if req.URL.Query().Get("watch") == "true" {
			verb = "WATCH"
		}
		m.apiRequests.WithLabelValues(verb, code).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
