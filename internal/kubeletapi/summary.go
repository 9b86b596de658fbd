package kubeletapi

import (
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/vnode-io/vnode/internal/backend"
)

// statsSummary serves GET /stats/summary.
func (h *handler) statsSummary(w http.ResponseWriter, r *http.Request) {
	summary, ok := h.summary(w, r)
	if ok {
		h.writeJSON(w, summary)
	}
}

// summary collects the backend's usage of the node's pods, or answers
// 501 or 500.
func (h *handler) summary(w http.ResponseWriter, r *http.Request) (*statsv1alpha1.Summary, bool) {
	stats, ok := h.podStats(w, r, "stats")
	if !ok {
		return nil, false
	}
	return buildSummary(h.cfg.NodeName, h.cfg.StartTime, h.cfg.Clock.Now(), stats), true
}

// podStats reads the backend's usage of the node's pods (see known), or
// answers 501 (no ContainerIO; what names the route) or 500.
func (h *handler) podStats(w http.ResponseWriter, r *http.Request, what string) ([]backend.PodStats, bool) {
	cio, ok := h.containerIO(w, what)
	if !ok {
		return nil, false
	}
	stats, err := cio.Stats(r.Context())
	if err != nil {
		http.Error(w, "get the backend's stats: "+err.Error(), http.StatusInternalServerError)
		return nil, false
	}
	return h.known(stats), true
}

// known keeps the stats of the pods the node has, leaving out workloads
// the backend still runs for pods that are gone.
func (h *handler) known(stats []backend.PodStats) []backend.PodStats {
	out := stats[:0:0]
	for _, ps := range stats {
		if pod, ok := h.cfg.Pods.Pod(ps.Pod.Namespace, ps.Pod.Name); ok && (ps.Pod.UID == "" || pod.UID == ps.Pod.UID) {
			out = append(out, ps)
		}
	}
	return out
}

// buildSummary converts the backend's usage to the kubelet's Summary:
// each container's CPU and memory, each pod's as the sum of its
// containers', and the node's as the sum of its pods'.
func buildSummary(nodeName string, nodeStart, now time.Time, stats []backend.PodStats) *statsv1alpha1.Summary {
	node := usage{time: now}
	s := &statsv1alpha1.Summary{Pods: make([]statsv1alpha1.PodStats, 0, len(stats))}
	for _, ps := range stats {
		pod := usage{time: ps.Time}
		out := statsv1alpha1.PodStats{
			PodRef:    statsv1alpha1.PodReference{Name: ps.Pod.Name, Namespace: ps.Pod.Namespace, UID: string(ps.Pod.UID)},
			StartTime: metav1.NewTime(ps.StartTime),
		}
		for _, cs := range ps.Containers {
			c := usage{time: ps.Time}
			c.add(cs)
			pod.add(cs)
			out.Containers = append(out.Containers, statsv1alpha1.ContainerStats{
				Name: cs.Name, StartTime: metav1.NewTime(cs.StartTime), CPU: c.cpu(), Memory: c.memory(),
			})
		}
		out.CPU, out.Memory = pod.cpu(), pod.memory()
		if n := ps.Network; n != nil {
			iface := statsv1alpha1.InterfaceStats{Name: n.Interface, RxBytes: ptr(n.RxBytes), RxErrors: ptr(n.RxErrors),
				TxBytes: ptr(n.TxBytes), TxErrors: ptr(n.TxErrors)}
			out.Network = &statsv1alpha1.NetworkStats{Time: metav1.NewTime(ps.Time), InterfaceStats: iface,
				Interfaces: []statsv1alpha1.InterfaceStats{iface}}
		}
		node.merge(pod)
		s.Pods = append(s.Pods, out)
	}
	s.Node = statsv1alpha1.NodeStats{
		NodeName: nodeName, StartTime: metav1.NewTime(nodeStart), CPU: node.cpu(), Memory: node.memory(),
	}
	return s
}

// usage adds up containers' usage.
type usage struct {
	time                                      time.Time
	nanoCores, coreNanos, working, inUse, rss uint64
}

func (u *usage) add(c backend.ContainerStats) {
	u.nanoCores += c.UsageNanoCores
	u.coreNanos += c.UsageCoreNanoSeconds
	u.working += c.WorkingSetBytes
	u.inUse += max(c.UsageBytes, c.WorkingSetBytes)
	u.rss += c.RSSBytes
}

func (u *usage) merge(o usage) {
	u.nanoCores += o.nanoCores
	u.coreNanos += o.coreNanos
	u.working += o.working
	u.inUse += o.inUse
	u.rss += o.rss
}

func (u usage) cpu() *statsv1alpha1.CPUStats {
	return &statsv1alpha1.CPUStats{Time: metav1.NewTime(u.time), UsageNanoCores: ptr(u.nanoCores), UsageCoreNanoSeconds: ptr(u.coreNanos)}
}

func (u usage) memory() *statsv1alpha1.MemoryStats {
	m := &statsv1alpha1.MemoryStats{Time: metav1.NewTime(u.time), WorkingSetBytes: ptr(u.working), UsageBytes: ptr(u.inUse)}
	if u.rss > 0 {
		m.RSSBytes = ptr(u.rss)
	}
	return m
}

func ptr(v uint64) *uint64 { return &v }
