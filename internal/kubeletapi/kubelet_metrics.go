package kubeletapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	kubeletconfigv1beta1 "k8s.io/kubelet/config/v1beta1"

	"github.com/vnode-io/vnode/internal/backend"
)

// metrics serves GET /metrics: the kubelet's own metrics that a virtual
// node has (kubelet_node_name, kubelet_running_pods,
// kubelet_running_containers, counted from the pods' status at the time
// of the request) together with the agent's (HandlerConfig.Metrics).
func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&kubeletCollector{node: h.cfg.NodeName, pods: h.cfg.Pods.Pods()})
	gatherers := prometheus.Gatherers{reg}
	if h.cfg.Metrics != nil {
		gatherers = append(gatherers, h.cfg.Metrics)
	}
	promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

var (
	kubeletNodeNameDesc = prometheus.NewDesc("kubelet_node_name",
		"The node's name. The count is always 1.", []string{"node"}, nil)
	kubeletRunningPodsDesc = prometheus.NewDesc("kubelet_running_pods",
		"Number of pods that have a running pod sandbox", nil, nil)
	kubeletRunningContainersDesc = prometheus.NewDesc("kubelet_running_containers",
		"Number of containers currently running", []string{"container_state"}, nil)
)

// The container states kubelet_running_containers counts, as the
// kubelet names them.
var containerStates = []string{"created", "running", "exited", "unknown"}

// kubeletCollector counts the node's pods and containers.
type kubeletCollector struct {
	node string
	pods []*corev1.Pod
}

// Describe implements prometheus.Collector.
func (c *kubeletCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- kubeletNodeNameDesc
	ch <- kubeletRunningPodsDesc
	ch <- kubeletRunningContainersDesc
}

// Collect implements prometheus.Collector. A pod whose group runs (its
// phase Running, or Pending past its init containers' start) counts as
// having a running sandbox; each container counts in the state its status
// reports: waiting ones that ran before as exited, others as created.
func (c *kubeletCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(kubeletNodeNameDesc, prometheus.GaugeValue, 1, c.node)
	running := 0
	states := map[string]int{}
	for _, p := range c.pods {
		if p.Status.Phase == corev1.PodRunning || (p.Status.Phase == corev1.PodPending && p.Status.PodIP != "") {
			running++
		}
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, st := range list {
				states[containerState(st)]++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(kubeletRunningPodsDesc, prometheus.GaugeValue, float64(running))
	for _, s := range containerStates {
		ch <- prometheus.MustNewConstMetric(kubeletRunningContainersDesc, prometheus.GaugeValue, float64(states[s]), s)
	}
}

// containerState is the kubelet's name of a container's state.
func containerState(st corev1.ContainerStatus) string {
	switch {
	case st.State.Running != nil:
		return "running"
	case st.State.Terminated != nil:
		return "exited"
	case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
		return "exited"
	case st.State.Waiting != nil:
		return "created"
	default:
		return "unknown"
	}
}

// configz serves GET /configz: the node's configuration in the shape of
// the kubelet's ({"kubeletconfig": KubeletConfiguration}), with what a
// virtual kubelet has of it.
func (h *handler) configz(w http.ResponseWriter, _ *http.Request) {
	if h.cfg.Configz == nil {
		http.Error(w, "this node publishes no configuration", http.StatusNotFound)
		return
	}
	h.writeJSON(w, struct {
		KubeletConfig *kubeletconfigv1beta1.KubeletConfiguration `json:"kubeletconfig"`
	}{h.cfg.Configz})
}

var proberProbeTotalDesc = prometheus.NewDesc("prober_probe_total",
	"Cumulative number of a liveness, readiness or startup probe for a container by result.",
	[]string{"container", "namespace", "pod", "pod_uid", "probe_type", "result"}, nil)

// proberMetrics serves GET /metrics/probes: prober_probe_total of the
// kubelet's prober, from the results the backend counts for each running
// container (vnode's service runs the probes; a backend that does not
// count them reports none).
func (h *handler) proberMetrics(w http.ResponseWriter, r *http.Request) {
	stats, ok := h.podStats(w, r, "probe metrics")
	if !ok {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&proberCollector{stats: stats})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// proberCollector exposes one read of the backend's probe counts.
type proberCollector struct {
	stats []backend.PodStats
}

// Describe implements prometheus.Collector.
func (c *proberCollector) Describe(ch chan<- *prometheus.Desc) { ch <- proberProbeTotalDesc }

// Collect implements prometheus.Collector.
func (c *proberCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ps := range c.stats {
		for _, cs := range ps.Containers {
			for _, p := range cs.Probes {
				ch <- prometheus.MustNewConstMetric(proberProbeTotalDesc, prometheus.CounterValue, float64(p.Count),
					cs.Name, ps.Pod.Namespace, ps.Pod.Name, string(ps.Pod.UID), p.Probe, p.Result)
			}
		}
	}
}
