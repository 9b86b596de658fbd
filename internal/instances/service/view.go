package service

import (
	"context"
	"encoding/json"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/store"
)

// Group states (instanceView.state).
const (
	StatePending   = "Pending"
	StateRunning   = "Running"
	StateStopped   = "Stopped"
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
)

// maxEventsPerContainer bounds the events kept per container (and per group).
const maxEventsPerContainer = 50

func isTerminal(state string) bool { return state == StateSucceeded || state == StateFailed }

// groupState derives the group's state from its provisioning state and the
// runtime's report, as ACI does. Callers hold s.mu.
func groupState(g *group) string {
	switch {
	case g.stopped:
		return StateStopped
	case g.provisioning == ProvisioningFailed:
		return StateFailed
	case g.provisioning != ProvisioningSucceeded && g.provisioning != ProvisioningDeleting:
		return StatePending
	}
	if len(g.status.Containers) == 0 {
		return StatePending
	}
	policy := runtime.RestartAlways
	if g.spec.Properties.RestartPolicy != nil {
		policy = runtime.RestartPolicy(*g.spec.Properties.RestartPolicy)
	}
	for _, c := range g.status.InitContainers {
		// A failed init container ends a group that restarts nothing: its
		// containers never start.
		if policy == runtime.RestartNever && c.Current.State == runtime.StateTerminated && c.Current.ExitCode != 0 {
			return StateFailed
		}
	}
	running, failed, done := 0, 0, 0
	for _, c := range g.status.Containers {
		switch c.Current.State {
		case runtime.StateRunning:
			running++
		case runtime.StateTerminated:
			done++
			if c.Current.ExitCode != 0 {
				failed++
			}
		}
	}
	switch {
	case done == len(g.status.Containers) && policy == runtime.RestartNever && failed > 0:
		return StateFailed
	case done == len(g.status.Containers) && policy != runtime.RestartAlways && failed == 0:
		return StateSucceeded
	case done == len(g.status.Containers) && policy == runtime.RestartOnFailure:
		return StateRunning
	case running > 0 || done > 0:
		return StateRunning
	}
	return StatePending
}

// view renders g as ARM returns it: the spec plus read-only fields, and the
// instance view when withInstanceView is set (GET) but not in lists. The
// result shares nothing with g. Callers hold s.mu.
func (s *Service) view(g *group, withInstanceView bool) *aci.ContainerGroup {
	data := g.specJSON
	if data == nil {
		data, _ = specJSON(g)
	}
	out := &aci.ContainerGroup{}
	_ = json.Unmarshal(data, out)
	if out.Properties == nil {
		out.Properties = &aci.ContainerGroupPropertiesProperties{}
	}
	id, typ, name := ResourceID(g.sub, g.rg, g.name), ResourceType, g.name
	out.ID, out.Type, out.Name, out.Location = &id, &typ, &name, &g.location
	p := out.Properties
	prov := g.provisioning
	p.ProvisioningState = &prov
	if g.status.IP != "" && !g.stopped {
		ip := g.status.IP
		if p.IPAddress == nil {
			// Every group has an address on the groups' network, as ACI's
			// groups in a virtual network do; one without exposed ports
			// shows it as a private address.
			typ := aci.ContainerGroupIPAddressTypePrivate
			p.IPAddress = &aci.IPAddress{Type: &typ}
		}
		p.IPAddress.IP = &ip
	}
	if !withInstanceView {
		return out
	}
	state := groupState(g)
	p.InstanceView = &aci.ContainerGroupPropertiesInstanceView{State: &state, Events: armEvents(g.events, "")}
	statuses := map[string]runtime.ContainerStatus{}
	for _, c := range g.status.Containers {
		statuses[c.Name] = c
	}
	for _, c := range g.status.InitContainers {
		statuses[c.Name] = c
	}
	for _, c := range p.Containers {
		if c == nil || c.Properties == nil || c.Name == nil {
			continue
		}
		c.Properties.InstanceView = containerView(statuses, *c.Name, g.events, g.stopped)
	}
	for _, c := range p.InitContainers {
		if c == nil || c.Properties == nil || c.Name == nil {
			continue
		}
		v := containerView(statuses, *c.Name, g.events, g.stopped)
		c.Properties.InstanceView = &aci.InitContainerPropertiesDefinitionInstanceView{
			CurrentState: v.CurrentState, PreviousState: v.PreviousState, RestartCount: v.RestartCount, Events: v.Events}
	}
	return out
}

func containerView(statuses map[string]runtime.ContainerStatus, name string, events []store.Event, stopped bool) *aci.ContainerPropertiesInstanceView {
	v := &aci.ContainerPropertiesInstanceView{Events: armEvents(events, name)}
	st, ok := statuses[name]
	if !ok {
		waiting := runtime.StateWaiting
		v.CurrentState = &aci.ContainerState{State: &waiting}
		zero := int32(0)
		v.RestartCount = &zero
		return v
	}
	rc := st.RestartCount
	v.RestartCount = &rc
	v.CurrentState = armState(st.Current)
	if st.Previous != nil {
		v.PreviousState = armState(*st.Previous)
	}
	return v
}

func armState(c runtime.ContainerState) *aci.ContainerState {
	out := &aci.ContainerState{}
	state := c.State
	out.State = &state
	if c.DetailStatus != "" {
		d := c.DetailStatus
		out.DetailStatus = &d
	}
	if !c.StartTime.IsZero() {
		t := c.StartTime.UTC()
		out.StartTime = &t
	}
	if c.State == runtime.StateTerminated {
		code := c.ExitCode
		out.ExitCode = &code
		if !c.FinishTime.IsZero() {
			t := c.FinishTime.UTC()
			out.FinishTime = &t
		}
	}
	return out
}

func armEvents(events []store.Event, container string) []*aci.Event {
	out := []*aci.Event{}
	for _, e := range events {
		if e.Container != container {
			continue
		}
		count := e.Count
		first, last := e.FirstTime, e.LastTime
		name, msg, typ := e.Name, e.Message, e.Type
		out = append(out, &aci.Event{Count: &count, FirstTimestamp: &first, LastTimestamp: &last,
			Name: &name, Message: &msg, Type: &typ})
	}
	return out
}

// addEvents records events on g, aggregating repeats, in memory and in the
// store. Callers hold s.mu.
func (s *Service) addEvents(ctx context.Context, g *group, events []runtime.Event) {
	if len(events) == 0 {
		return
	}
	var recs []store.Event
	for _, e := range events {
		at := e.Time
		if at.IsZero() {
			at = s.clock.Now()
		}
		at = at.UTC()
		rec := store.Event{GroupUID: g.uid, Container: e.Container, Name: e.Name, Message: e.Message,
			Type: e.Type, Count: 1, FirstTime: at, LastTime: at}
		recs = append(recs, rec)
		g.events = mergeEvent(g.events, rec)
	}
	if err := s.store.AddEvents(ctx, recs); err != nil {
		s.log.Warn("record events", "group", g.key, "err", err)
	}
}

// mergeEvent aggregates e into events (same container, name and message
// count up) and keeps at most maxEventsPerContainer per container.
func mergeEvent(events []store.Event, e store.Event) []store.Event {
	for i := range events {
		x := &events[i]
		if x.Container == e.Container && x.Name == e.Name && x.Message == e.Message {
			x.Count += e.Count
			x.LastTime, x.Type = e.LastTime, e.Type
			return events
		}
	}
	events = append(events, e)
	n := 0
	for _, x := range events {
		if x.Container == e.Container {
			n++
		}
	}
	if n > maxEventsPerContainer {
		for i, x := range events {
			if x.Container == e.Container {
				return append(events[:i:i], events[i+1:]...)
			}
		}
	}
	return events
}
