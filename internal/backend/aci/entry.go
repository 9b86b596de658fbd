package aci

import (
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
)

// entry is what the backend tracks of one pod's group. Backend.mu guards it.
type entry struct {
	uid       types.UID
	namespace string
	name      string
	group     string

	// specHash identifies the body of the last PUT ("" for adopted groups).
	specHash string
	// images are the containers' images by name, as last created or seen.
	images map[string]string

	// state is the last published state (without events); nil until the
	// group was first accepted or seen.
	state *backend.PodState
	// prov is the last provisioning state seen.
	prov string
	// transition is set while the group changes state soon.
	transition bool
	// events are the instance-view events reported so far; primed is set
	// once they reflect the group (at once for groups created here, after
	// the first view for adopted ones, whose past events are not repeated).
	events eventLog
	primed bool
	// pending are events to publish with the next state.
	pending []backend.Event

	// creating is set while a PUT is in flight; acceptedAt is when the
	// service accepted it (lists that began earlier may lack the group).
	creating   bool
	acceptedAt time.Time
	// lastRead is when the group was last read with its instance view.
	lastRead time.Time
	// needsRead asks for a read with the instance view at the next poll.
	needsRead bool

	// deleting is set once a delete was accepted, at deleteSent;
	// deleteAfterCreate when Delete came while the PUT was in flight.
	deleting          bool
	deleteSent        time.Time
	deleteAfterCreate bool
	grace             time.Duration

	// stopped is set once the agent asked for the group to be stopped (a
	// pod past its deadline): it is never deployed again. stopping is set
	// while the stop request is in flight.
	stopped  bool
	stopping bool

	// redeployBackOff is the current wait after the group failed (an image
	// pull, lost containers; 0: none since it last ran); redeployAt, when
	// set, is when the group is deployed again.
	redeployBackOff time.Duration
	redeployAt      time.Time
}

// busy reports whether the entry needs fast polling.
func (e *entry) busy() bool {
	return e.creating || e.deleting || e.stopping || e.transition || e.needsRead
}

// ref names the entry's pod.
func (e *entry) ref() backend.PodRef {
	return backend.PodRef{UID: e.uid, Namespace: e.namespace, Name: e.name}
}

// sameState reports whether two states are equal, ignoring events.
func sameState(a, b *backend.PodState) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Events, y.Events = nil, nil
	return reflect.DeepEqual(x.InitContainers, y.InitContainers) && reflect.DeepEqual(x.Containers, y.Containers) &&
		x.UID == y.UID && x.Namespace == y.Namespace && x.Name == y.Name && x.IP == y.IP &&
		x.StartTime.Equal(y.StartTime) && x.Failed == y.Failed && x.Reason == y.Reason && x.Message == y.Message
}

// publishLocked records st as the entry's state and pushes it when it
// differs from the last one or carries events. Callers hold Backend.mu.
func (b *Backend) publishLocked(e *entry, st *backend.PodState) {
	st.Events = append(e.pending, st.Events...)
	e.pending = nil
	changed := !sameState(e.state, st)
	if changed || len(st.Events) > 0 {
		b.Publish(st)
	}
	keep := st.DeepCopy()
	keep.Events = nil
	e.state = keep
}

// forgetLocked drops a gone group and publishes its final state: every
// container terminated. Callers hold Backend.mu.
func (b *Backend) forgetLocked(e *entry, reason, message string, code int32) {
	delete(b.entries, e.uid)
	last := e.state
	if last == nil {
		last = &backend.PodState{UID: e.uid, Namespace: e.namespace, Name: e.name}
	}
	st := terminatedState(last, b.cfg.Clock.Now(), reason, message, code)
	st.Events = e.pending
	b.Publish(st)
}
