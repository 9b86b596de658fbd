package aci

import (
	"strings"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// Provisioning states of a container group.
const (
	provSucceeded = "Succeeded"
	provFailed    = "Failed"
	provDeleting  = "Deleting"
	provCanceled  = "Canceled"
)

// view is what the backend knows of one group at a point in time: the
// group as the SDK decoded it, each container's readiness when the
// service reports it (vnode's "ready" addition; nil otherwise) and the
// termination messages of its containers' states (vnode's "message").
type view struct {
	group    *aci.ContainerGroup
	ready    map[string]bool
	messages map[string]wire.StateMessages
	// started is each container's started verdict when the service
	// reports it (vnode's "started"; nil otherwise: a running container
	// has started).
	started map[string]bool
	// imageIDs are the digest references of the images the (init)
	// containers run, when the service reports them (vnode's "imageID").
	imageIDs map[string]string
}

// ctrView is the instance view of a container or init container.
type ctrView struct {
	name, image string
	current     *aci.ContainerState
	previous    *aci.ContainerState
	restarts    int32
	events      []*aci.Event
	messages    wire.StateMessages
}

// podIdentity returns the pod a group belongs to, from its tags.
func podIdentity(g *aci.ContainerGroup) (types.UID, string, string) {
	return types.UID(tag(g.Tags, TagUID)), tag(g.Tags, TagNamespace), tag(g.Tags, TagPodName)
}

// hasInstanceView reports whether the group carries container instance views.
func (v view) hasInstanceView() bool {
	p := v.group.Properties
	if p == nil {
		return false
	}
	if p.InstanceView != nil {
		return true
	}
	for _, c := range p.Containers {
		if c != nil && c.Properties != nil && c.Properties.InstanceView != nil {
			return true
		}
	}
	return false
}

// containers returns the instance views of the group's init containers and
// containers, in the group's (the pod's) order.
func (v view) containers() (inits, mains []ctrView) {
	p := v.group.Properties
	if p == nil {
		return nil, nil
	}
	for _, c := range p.InitContainers {
		if c == nil || c.Properties == nil {
			continue
		}
		cv := ctrView{name: deref(c.Name), image: deref(c.Properties.Image), messages: v.messages[deref(c.Name)]}
		if iv := c.Properties.InstanceView; iv != nil {
			cv.current, cv.previous, cv.restarts, cv.events = iv.CurrentState, iv.PreviousState, deref(iv.RestartCount), iv.Events
		}
		inits = append(inits, cv)
	}
	for _, c := range p.Containers {
		if c == nil || c.Properties == nil {
			continue
		}
		cv := ctrView{name: deref(c.Name), image: deref(c.Properties.Image), messages: v.messages[deref(c.Name)]}
		if iv := c.Properties.InstanceView; iv != nil {
			cv.current, cv.previous, cv.restarts, cv.events = iv.CurrentState, iv.PreviousState, deref(iv.RestartCount), iv.Events
		}
		mains = append(mains, cv)
	}
	return inits, mains
}

// podState maps a group to the pod's state (without events), per ACI's
// states and the kubelet's reasons:
//
//   - while provisioning (Pending, Creating, Accepted, …) containers without
//     an instance view wait as ContainerCreating (init containers as
//     PodInitializing);
//   - a failed provisioning that was an image pull leaves the containers
//     waiting with ErrImagePull and the cause; any other failure marks the
//     workload Failed with reason ProviderFailed;
//   - container states map one to one; terminated reasons are OOMKilled when
//     the service says so, else Completed for exit 0 and Error otherwise.
func podState(v view) *backend.PodState {
	g := v.group
	uid, ns, name := podIdentity(g)
	st := &backend.PodState{UID: uid, Namespace: ns, Name: name, StartTime: tagTime(g.Tags, TagAcceptedTime)}
	p := g.Properties
	if p == nil {
		return st
	}
	if p.IPAddress != nil && p.IPAddress.IP != nil {
		st.IP = *p.IPAddress.IP
	}
	groupName := deref(g.Name)
	inits, mains := v.containers()
	prov := deref(p.ProvisioningState)
	failure := ""
	if prov == provFailed {
		failure = failureMessage(p, inits, mains)
		if !isPullFailure(failure) {
			st.Failed, st.Reason, st.Message = true, backend.ReasonProviderFailed, failure
			failure = ""
		}
	}
	for _, c := range inits {
		cs := containerState(groupName, c, v.ready, backend.ReasonPodInitializing, failure)
		if id := v.imageIDs[c.name]; id != "" {
			cs.ImageID = id
		}
		st.InitContainers = append(st.InitContainers, cs)
	}
	for _, c := range mains {
		cs := containerState(groupName, c, v.ready, backend.ReasonContainerCreating, failure)
		if id := v.imageIDs[c.name]; id != "" {
			cs.ImageID = id
		}
		if started, ok := v.started[c.name]; ok && cs.State == backend.Running && !started {
			cs.StartupPending, cs.Ready = true, false
		}
		st.Containers = append(st.Containers, cs)
	}
	return st
}

// containerState maps one container's instance view. pullFailure, when
// set, is why the group's image pull failed.
func containerState(group string, c ctrView, ready map[string]bool, pending, pullFailure string) backend.ContainerState {
	out := backend.ContainerState{Name: c.name, Image: c.image, ImageID: c.image, RestartCount: c.restarts,
		ContainerID: "aci://" + group + "/" + c.name}
	switch {
	case pullFailure != "" && (c.current == nil || deref(c.current.State) != string(backend.Running)):
		out.State, out.Reason, out.Message = backend.Waiting, backend.ReasonErrImagePull, pullFailure
	case c.current == nil:
		out.State, out.Reason = backend.Waiting, pending
	default:
		applyState(&out, c.current, pending)
		addMessage(&out, c.messages.Current)
	}
	if c.previous != nil && deref(c.previous.State) == string(backend.Terminated) {
		last := backend.ContainerState{Name: c.name}
		applyState(&last, c.previous, pending)
		addMessage(&last, c.messages.Previous)
		out.Last = &last
	}
	if out.State == backend.Running {
		if r, ok := ready[c.name]; ok && ready != nil {
			out.Ready = r
		} else {
			out.Ready = ready == nil
		}
	}
	return out
}

// applyState fills a container state from ACI's.
func applyState(out *backend.ContainerState, cs *aci.ContainerState, pending string) {
	detail := deref(cs.DetailStatus)
	out.StartedAt = deref(cs.StartTime)
	switch deref(cs.State) {
	case string(backend.Running):
		out.State = backend.Running
	case string(backend.Terminated):
		out.State, out.ExitCode, out.FinishedAt = backend.Terminated, deref(cs.ExitCode), deref(cs.FinishTime)
		switch {
		case detail == backend.ReasonOOMKilled || strings.Contains(strings.ToLower(detail), "oom"):
			out.Reason = backend.ReasonOOMKilled
		case out.ExitCode == 0:
			out.Reason = backend.ReasonCompleted
		default:
			out.Reason = backend.ReasonError
		}
		if detail != "" && detail != out.Reason {
			out.Message = detail
		}
	default:
		out.State, out.Reason = backend.Waiting, pending
		switch detail {
		case backend.ReasonCrashLoopBackOff, backend.ReasonErrImagePull, backend.ReasonImagePullBackOff,
			backend.ReasonPodInitializing, backend.ReasonContainerCreating, backend.ReasonCreateContainerConfigError:
			out.Reason = detail
		case "", "Waiting", "Pending", "Creating":
		default:
			out.Message = detail
		}
	}
}

// addMessage adds a terminated state's termination message to its
// message, after the service's detail if there is one, as the kubelet adds
// it to the runtime's. A waiting state's message is why it waits (what
// its configuration lacks).
func addMessage(out *backend.ContainerState, msg string) {
	if msg == "" {
		return
	}
	if out.State == backend.Waiting {
		out.Message = msg
		return
	}
	if out.State != backend.Terminated {
		return
	}
	if out.Message != "" {
		out.Message += ": "
	}
	out.Message += msg
}

// failureMessage finds why a group failed: its newest Warning event, a
// container's, or a generic message.
func failureMessage(p *aci.ContainerGroupPropertiesProperties, inits, mains []ctrView) string {
	var newest *aci.Event
	consider := func(evs []*aci.Event) {
		for _, e := range evs {
			if e == nil || !strings.EqualFold(deref(e.Type), corev1.EventTypeWarning) {
				continue
			}
			if newest == nil || !deref(e.LastTimestamp).Before(deref(newest.LastTimestamp)) {
				newest = e
			}
		}
	}
	if p.InstanceView != nil {
		consider(p.InstanceView.Events)
	}
	for _, c := range append(append([]ctrView(nil), inits...), mains...) {
		consider(c.events)
	}
	if newest != nil && deref(newest.Message) != "" {
		return deref(newest.Message)
	}
	return "the container group failed to deploy"
}

// isPullFailure reports whether a failure message is about pulling an image.
func isPullFailure(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "pull") || strings.Contains(m, "inaccessibleimage") || strings.Contains(m, "image")
}

// terminatedState is the last state of a workload whose group is gone:
// every container that was not already terminated is, with reason,
// message and exit code.
func terminatedState(last *backend.PodState, now time.Time, reason, message string, code int32) *backend.PodState {
	st := last.DeepCopy()
	st.Events = nil
	end := func(cs []backend.ContainerState) {
		for i := range cs {
			c := &cs[i]
			if c.State == backend.Terminated {
				continue
			}
			started := c.StartedAt
			if started.IsZero() {
				started = now
			}
			c.State, c.Reason, c.Message, c.ExitCode = backend.Terminated, reason, message, code
			c.StartedAt, c.FinishedAt, c.Ready = started, now, false
		}
	}
	end(st.InitContainers)
	end(st.Containers)
	return st
}

// inTransition reports whether a group is changing state soon, so that the
// poller watches it closely: provisioning not finished, a container
// waiting to start, or a running container not yet ready in its first minute.
func inTransition(st *backend.PodState, prov string, now time.Time) bool {
	switch prov {
	case provSucceeded, provFailed, provCanceled:
	default:
		return true
	}
	// Behind a failed init container (exited, or waiting out its back-off)
	// the rest waits for its back-off, or for good under Never: steady, as
	// a container in back-off is.
	initFailed := false
	for _, c := range st.InitContainers {
		initFailed = initFailed || c.State == backend.Terminated && c.ExitCode != 0 ||
			c.State == backend.Waiting && c.Reason == backend.ReasonCrashLoopBackOff
	}
	for _, c := range append(append([]backend.ContainerState(nil), st.InitContainers...), st.Containers...) {
		switch {
		case c.State == backend.Waiting && c.Reason == backend.ReasonPodInitializing && initFailed:
		case c.State == backend.Waiting && c.Reason != backend.ReasonCrashLoopBackOff && c.Reason != backend.ReasonErrImagePull:
			return true
		case c.State == backend.Running && !c.Ready && now.Sub(c.StartedAt) < time.Minute:
			return true
		}
	}
	return false
}
