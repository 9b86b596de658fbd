package kubeletapi

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// resourceMetrics serves GET /metrics/resource, what metrics-server
// scrapes: the Summary's CPU and memory in Prometheus text, with the
// kubelet's names and labels. Each request collects into a registry of
// its own, so that nothing outlives it.
func (h *handler) resourceMetrics(w http.ResponseWriter, r *http.Request) {
	summary, ok := h.summary(w, r)
	if !ok {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&resourceCollector{summary: summary})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

var (
	containerLabels = []string{"container", "pod", "namespace"}
	podLabels       = []string{"pod", "namespace"}

	nodeCPUDesc = prometheus.NewDesc("node_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the node in core-seconds", nil, nil)
	nodeMemoryDesc = prometheus.NewDesc("node_memory_working_set_bytes",
		"Current working set of the node in bytes", nil, nil)
	containerCPUDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the container in core-seconds", containerLabels, nil)
	containerMemoryDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"Current working set of the container in bytes", containerLabels, nil)
	containerStartDesc = prometheus.NewDesc("container_start_time_seconds",
		"Start time of the container since unix epoch in seconds", containerLabels, nil)
	podCPUDesc = prometheus.NewDesc("pod_cpu_usage_seconds_total",
		"Cumulative cpu time consumed by the pod in core-seconds", podLabels, nil)
	podMemoryDesc = prometheus.NewDesc("pod_memory_working_set_bytes",
		"Current working set of the pod in bytes", podLabels, nil)
	scrapeErrorDesc = prometheus.NewDesc("scrape_error",
		"1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
	resourceScrapeErrorDesc = prometheus.NewDesc("resource_scrape_error",
		"1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// resourceCollector exposes one Summary.
type resourceCollector struct {
	summary *statsv1alpha1.Summary
}

// Describe implements prometheus.Collector.
func (c *resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUDesc, nodeMemoryDesc, containerCPUDesc, containerMemoryDesc,
		containerStartDesc, podCPUDesc, podMemoryDesc, scrapeErrorDesc, resourceScrapeErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Usage samples carry the time
// they were measured, which metrics-server uses to compute rates.
func (c *resourceCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.summary
	ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, 0)
	ch <- prometheus.MustNewConstMetric(resourceScrapeErrorDesc, prometheus.GaugeValue, 0)
	cpuAndMemory(ch, s.Node.CPU, s.Node.Memory, nodeCPUDesc, nodeMemoryDesc)
	for _, p := range s.Pods {
		for _, ct := range p.Containers {
			labels := []string{ct.Name, p.PodRef.Name, p.PodRef.Namespace}
			if !ct.StartTime.IsZero() {
				ch <- prometheus.MustNewConstMetric(containerStartDesc, prometheus.GaugeValue,
					float64(ct.StartTime.UnixNano())/float64(time.Second), labels...)
			}
			cpuAndMemory(ch, ct.CPU, ct.Memory, containerCPUDesc, containerMemoryDesc, labels...)
		}
		cpuAndMemory(ch, p.CPU, p.Memory, podCPUDesc, podMemoryDesc, p.PodRef.Name, p.PodRef.Namespace)
	}
}

func cpuAndMemory(ch chan<- prometheus.Metric, cpu *statsv1alpha1.CPUStats, mem *statsv1alpha1.MemoryStats, cpuDesc, memDesc *prometheus.Desc, labels ...string) {
	if cpu != nil && cpu.UsageCoreNanoSeconds != nil {
		ch <- prometheus.NewMetricWithTimestamp(cpu.Time.Time, prometheus.MustNewConstMetric(cpuDesc,
			prometheus.CounterValue, float64(*cpu.UsageCoreNanoSeconds)/float64(time.Second), labels...))
	}
	if mem != nil && mem.WorkingSetBytes != nil {
		ch <- prometheus.NewMetricWithTimestamp(mem.Time.Time, prometheus.MustNewConstMetric(memDesc,
			prometheus.GaugeValue, float64(*mem.WorkingSetBytes), labels...))
	}
}
