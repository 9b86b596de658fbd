package aci

import (
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// eventKey identifies an aggregated instance-view event, as ACI aggregates
// them: by container, name and message.
type eventKey struct {
	container, name, message string
}

// eventSeen is how far an aggregated event has been reported.
type eventSeen struct {
	count int32
	last  time.Time
}

// eventLog remembers the events of one group that were reported, so that
// each occurrence is reported once although every poll returns them all.
// It is not safe for concurrent use.
type eventLog map[eventKey]eventSeen

// fresh returns the events of v that were not reported yet and records
// them. With prime set it only records them: a group adopted after a
// restart had its past events reported by the previous agent.
func (l eventLog) fresh(v view, prime bool) []backend.Event {
	var out []backend.Event
	add := func(container string, evs []*aci.Event) {
		for _, e := range evs {
			if e == nil {
				continue
			}
			k := eventKey{container, deref(e.Name), deref(e.Message)}
			count, last := max(deref(e.Count), 1), deref(e.LastTimestamp)
			seen, ok := l[k]
			if ok && count <= seen.count && !last.After(seen.last) {
				continue
			}
			l[k] = eventSeen{count: count, last: last}
			if prime {
				continue
			}
			typ := corev1.EventTypeNormal
			if deref(e.Type) == corev1.EventTypeWarning {
				typ = corev1.EventTypeWarning
			}
			out = append(out, backend.Event{Type: typ, Reason: k.name, Message: k.message, Container: container, Time: last})
		}
	}
	p := v.group.Properties
	if p == nil {
		return nil
	}
	if p.InstanceView != nil {
		add("", p.InstanceView.Events)
	}
	inits, mains := v.containers()
	for _, c := range append(inits, mains...) {
		add(c.name, c.events)
	}
	return out
}
