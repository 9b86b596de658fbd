package kubeletapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// cadvisorMetrics serves GET /metrics/cadvisor: the backend's usage of
// each running container and each pod's network in the names, labels and
// types cAdvisor gives them behind a kubelet, so that a Prometheus set up
// for kubelets scrapes the virtual node's pods too. A virtual node has no
// cgroups: a container's id label is /vnode/<pod UID>/<container ID> and
// a pod's network is that of its sandbox, labelled as cAdvisor labels a
// pod's sandbox under containerd (container "", name the pod's UID).
func (h *handler) cadvisorMetrics(w http.ResponseWriter, r *http.Request) {
	stats, ok := h.podStats(w, r, "stats")
	if !ok {
		return
	}
	c := &cadvisorCollector{capacity: h.cfg.Capacity}
	for _, ps := range stats {
		if pod, ok := h.cfg.Pods.Pod(ps.Pod.Namespace, ps.Pod.Name); ok {
			c.pods = append(c.pods, podUsage{pod: pod, stats: ps})
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// podUsage is a pod and the backend's usage of it.
type podUsage struct {
	pod   *corev1.Pod
	stats backend.PodStats
}

var (
	cadvisorLabels        = []string{"container", "id", "image", "name", "namespace", "pod"}
	cadvisorCPULabels     = append(append([]string(nil), cadvisorLabels...), "cpu")
	cadvisorNetworkLabels = append(append([]string(nil), cadvisorLabels...), "interface")

	cadvisorCPUDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"Cumulative cpu time consumed in seconds.", cadvisorCPULabels, nil)
	cadvisorWorkingSetDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"Current working set in bytes.", cadvisorLabels, nil)
	cadvisorMemoryUsageDesc = prometheus.NewDesc("container_memory_usage_bytes",
		"Current memory usage in bytes, including all memory regardless of when it was accessed", cadvisorLabels, nil)
	cadvisorRSSDesc = prometheus.NewDesc("container_memory_rss",
		"Size of RSS in bytes.", cadvisorLabels, nil)
	cadvisorStartDesc = prometheus.NewDesc("container_start_time_seconds",
		"Start time of the container since unix epoch in seconds.", cadvisorLabels, nil)
	cadvisorMemoryLimitDesc = prometheus.NewDesc("container_spec_memory_limit_bytes",
		"Memory limit for the container.", cadvisorLabels, nil)
	cadvisorRxBytesDesc = prometheus.NewDesc("container_network_receive_bytes_total",
		"Cumulative count of bytes received", cadvisorNetworkLabels, nil)
	cadvisorRxErrorsDesc = prometheus.NewDesc("container_network_receive_errors_total",
		"Cumulative count of errors encountered while receiving", cadvisorNetworkLabels, nil)
	cadvisorTxBytesDesc = prometheus.NewDesc("container_network_transmit_bytes_total",
		"Cumulative count of bytes transmitted", cadvisorNetworkLabels, nil)
	cadvisorTxErrorsDesc = prometheus.NewDesc("container_network_transmit_errors_total",
		"Cumulative count of errors encountered while transmitting", cadvisorNetworkLabels, nil)
	machineCoresDesc = prometheus.NewDesc("machine_cpu_cores",
		"Number of logical CPU cores.", nil, nil)
	machineMemoryDesc = prometheus.NewDesc("machine_memory_bytes",
		"Amount of memory installed on the machine.", nil, nil)
	cadvisorScrapeErrorDesc = prometheus.NewDesc("container_scrape_error",
		"1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// cadvisorCollector exposes one read of the backend's usage.
type cadvisorCollector struct {
	pods     []podUsage
	capacity func() corev1.ResourceList
}

// Describe implements prometheus.Collector.
func (c *cadvisorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{cadvisorCPUDesc, cadvisorWorkingSetDesc, cadvisorMemoryUsageDesc, cadvisorRSSDesc,
		cadvisorStartDesc, cadvisorMemoryLimitDesc, cadvisorRxBytesDesc, cadvisorRxErrorsDesc, cadvisorTxBytesDesc,
		cadvisorTxErrorsDesc, machineCoresDesc, machineMemoryDesc, cadvisorScrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Samples carry the time the
// backend measured them, as cAdvisor's do.
func (c *cadvisorCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(cadvisorScrapeErrorDesc, prometheus.GaugeValue, 0)
	if c.capacity != nil {
		capacity := c.capacity()
		if cpu, ok := capacity[corev1.ResourceCPU]; ok {
			ch <- prometheus.MustNewConstMetric(machineCoresDesc, prometheus.GaugeValue, float64(cpu.MilliValue())/1000)
		}
		if mem, ok := capacity[corev1.ResourceMemory]; ok {
			ch <- prometheus.MustNewConstMetric(machineMemoryDesc, prometheus.GaugeValue, float64(mem.Value()))
		}
	}
	for _, pu := range c.pods {
		c.collectPod(ch, pu)
	}
}

func (c *cadvisorCollector) collectPod(ch chan<- prometheus.Metric, pu podUsage) {
	pod, ps := pu.pod, pu.stats
	at := func(m prometheus.Metric) prometheus.Metric { return prometheus.NewMetricWithTimestamp(ps.Time, m) }
	for _, cs := range ps.Containers {
		labels := containerMetricLabels(pod, cs.Name)
		ch <- at(prometheus.MustNewConstMetric(cadvisorCPUDesc, prometheus.CounterValue,
			float64(cs.UsageCoreNanoSeconds)/float64(time.Second), append(labels, "total")...))
		ch <- at(prometheus.MustNewConstMetric(cadvisorWorkingSetDesc, prometheus.GaugeValue, float64(cs.WorkingSetBytes), labels...))
		ch <- at(prometheus.MustNewConstMetric(cadvisorMemoryUsageDesc, prometheus.GaugeValue,
			float64(max(cs.UsageBytes, cs.WorkingSetBytes)), labels...))
		if cs.RSSBytes > 0 {
			ch <- at(prometheus.MustNewConstMetric(cadvisorRSSDesc, prometheus.GaugeValue, float64(cs.RSSBytes), labels...))
		}
		if !cs.StartTime.IsZero() {
			ch <- prometheus.MustNewConstMetric(cadvisorStartDesc, prometheus.GaugeValue,
				float64(cs.StartTime.UnixNano())/float64(time.Second), labels...)
		}
		ch <- prometheus.MustNewConstMetric(cadvisorMemoryLimitDesc, prometheus.GaugeValue, memoryLimit(pod, cs.Name), labels...)
	}
	if n := ps.Network; n != nil {
		labels := []string{"", "/vnode/" + string(pod.UID), "", string(pod.UID), pod.Namespace, pod.Name, n.Interface}
		for _, v := range []struct {
			desc  *prometheus.Desc
			value uint64
		}{{cadvisorRxBytesDesc, n.RxBytes}, {cadvisorRxErrorsDesc, n.RxErrors}, {cadvisorTxBytesDesc, n.TxBytes}, {cadvisorTxErrorsDesc, n.TxErrors}} {
			ch <- at(prometheus.MustNewConstMetric(v.desc, prometheus.CounterValue, float64(v.value), labels...))
		}
	}
}

// containerMetricLabels are the cAdvisor labels of a container of pod:
// container, id, image, name, namespace and pod.
func containerMetricLabels(pod *corev1.Pod, container string) []string {
	image, id := "", ""
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			image = c.Image
		}
	}
	for _, st := range pod.Status.ContainerStatuses {
		if st.Name == container {
			if st.Image != "" {
				image = st.Image
			}
			if _, after, ok := strings.Cut(st.ContainerID, "://"); ok {
				id = after
			}
		}
	}
	return []string{container, "/vnode/" + string(pod.UID) + "/" + id, image, id, pod.Namespace, pod.Name}
}

// memoryLimit is a container's memory limit in bytes, 0 when it has none
// (cAdvisor's value for an unlimited container is the machine's memory; a
// virtual node reports none rather than a made-up machine).
func memoryLimit(pod *corev1.Pod, container string) float64 {
	for _, c := range pod.Spec.Containers {
		if c.Name == container {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return float64(q.Value())
			}
		}
	}
	return 0
}
