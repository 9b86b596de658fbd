package pods

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// recordEvents turns the events the backend reported into Kubernetes
// events on the pod, attributed to the container they concern. The event
// broadcaster aggregates repeats, so a crash loop does not flood the API.
func (c *Controller) recordEvents(st *backend.PodState) {
	if len(st.Events) == 0 {
		return
	}
	for _, e := range st.Events {
		ref := &corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: st.Namespace, Name: st.Name, UID: st.UID,
		}
		if e.Container != "" {
			ref.FieldPath = containerFieldPath(st, e.Container)
		}
		eventType := e.Type
		if eventType == "" {
			eventType = corev1.EventTypeNormal
		}
		c.cfg.Recorder.Event(ref, eventType, e.Reason, e.Message)
	}
}

func containerFieldPath(st *backend.PodState, name string) string {
	for _, ic := range st.InitContainers {
		if ic.Name == name {
			return "spec.initContainers{" + name + "}"
		}
	}
	return "spec.containers{" + name + "}"
}
