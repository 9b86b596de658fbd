package kubeletapi

import (
	"encoding/json"
	"net/http"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// pods serves GET /pods: the node's pods, as the agent's informer holds
// them.
func (h *handler) pods(w http.ResponseWriter, _ *http.Request) {
	pods := h.cfg.Pods.Pods()
	list := podList(len(pods))
	for _, p := range pods {
		list.Items = append(list.Items, *p)
	}
	sortPods(list.Items)
	h.writeJSON(w, list)
}

// runningPods serves GET /runningpods: the workloads the backend runs,
// named as their pods, with their containers' names and images.
func (h *handler) runningPods(w http.ResponseWriter, r *http.Request) {
	states, err := h.cfg.Backend.List(r.Context())
	if err != nil {
		http.Error(w, "list the backend's workloads: "+err.Error(), http.StatusInternalServerError)
		return
	}
	list := podList(len(states))
	for _, st := range states {
		list.Items = append(list.Items, runningPod(st))
	}
	sortPods(list.Items)
	h.writeJSON(w, list)
}

func runningPod(st *backend.PodState) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: st.Name, Namespace: st.Namespace, UID: st.UID}}
	for _, c := range st.Containers {
		if c.State == backend.Running {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
		}
	}
	return p
}

func podList(n int) *corev1.PodList {
	return &corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		Items:    make([]corev1.Pod, 0, n),
	}
}

func sortPods(pods []corev1.Pod) {
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
}

func (h *handler) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.cfg.Logger.Debug("kubelet API: write response", "err", err)
	}
}
