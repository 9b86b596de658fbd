package pods

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
)

// Metrics are the pod controller's Prometheus metrics.
type Metrics struct {
	podsByPhase  *prometheus.GaugeVec
	queueDepth   prometheus.Gauge
	queue        queueMetrics
	syncDuration prometheus.Histogram
	syncErrors   prometheus.Counter
	podStart     prometheus.Histogram
	deletions    prometheus.Counter
	apiRequests  *prometheus.HistogramVec

	mu sync.Mutex
	// starts tracks each pod from the agent first seeing it until it is
	// first written Running.
	starts map[types.UID]podStart
}

type podStart struct {
	seen    time.Time
	running bool
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
		queue: newQueueMetrics(),
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
		starts: map[types.UID]podStart{},
	}
	if reg != nil {
		reg.MustRegister(m.podsByPhase, m.queueDepth, m.syncDuration, m.syncErrors, m.podStart, m.deletions, m.apiRequests,
			m.queue.adds, m.queue.latency, m.queue.work, m.queue.unfinished, m.queue.longest, m.queue.retries)
	}
	return m
}

// observeStatus records the first time a pod is written Running; later
// restarts do not count.
func (m *Metrics) observeStatus(pod *corev1.Pod, status *corev1.PodStatus, now time.Time) {
	if status.Phase != corev1.PodRunning {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.starts[pod.UID]
	if !ok {
		s.seen = now
	}
	if !s.running {
		m.podStart.Observe(now.Sub(s.seen).Seconds())
		s.running = true
		m.starts[pod.UID] = s
	}
}

// seen notes when the agent first saw a pod.
func (m *Metrics) seen(uid types.UID, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.starts[uid]; !ok {
		m.starts[uid] = podStart{seen: now}
	}
}

func (m *Metrics) observeDeleted(pod *corev1.Pod) {
	m.deletions.Inc()
	m.forget(pod.UID)
}

// forget drops what is kept about a pod that is gone.
func (m *Metrics) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.starts, uid)
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

// queueMetrics describe the pod work queue; Metrics hands them to the
// queue as its workqueue.MetricsProvider.
type queueMetrics struct {
	adds, retries       prometheus.Counter
	latency, work       prometheus.Histogram
	unfinished, longest prometheus.Gauge
}

func newQueueMetrics() queueMetrics {
	buckets := prometheus.ExponentialBuckets(0.0001, 2, 18)
	return queueMetrics{
		adds:       prometheus.NewCounter(prometheus.CounterOpts{Name: "vnode_pod_queue_adds_total", Help: "Pods added to the work queue."}),
		retries:    prometheus.NewCounter(prometheus.CounterOpts{Name: "vnode_pod_queue_retries_total", Help: "Pods re-added with back-off."}),
		latency:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vnode_pod_queue_latency_seconds", Help: "Time a pod waits in the queue before a worker takes it.", Buckets: buckets}),
		work:       prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vnode_pod_queue_work_duration_seconds", Help: "Time a worker spends on a pod.", Buckets: buckets}),
		unfinished: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vnode_pod_queue_unfinished_work_seconds", Help: "Seconds of work in progress not yet observed by work_duration."}),
		longest:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "vnode_pod_queue_longest_running_processor_seconds", Help: "How long the longest running worker has been at its pod."}),
	}
}

// The methods below implement workqueue.MetricsProvider for the one queue.

func (m *Metrics) NewDepthMetric(string) workqueue.GaugeMetric            { return m.queueDepth }
func (m *Metrics) NewAddsMetric(string) workqueue.CounterMetric           { return m.queue.adds }
func (m *Metrics) NewLatencyMetric(string) workqueue.HistogramMetric      { return m.queue.latency }
func (m *Metrics) NewWorkDurationMetric(string) workqueue.HistogramMetric { return m.queue.work }
func (m *Metrics) NewRetriesMetric(string) workqueue.CounterMetric        { return m.queue.retries }
func (m *Metrics) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return m.queue.unfinished
}
func (m *Metrics) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return m.queue.longest
}

var _ workqueue.MetricsProvider = (*Metrics)(nil)
