package service

import (
	"slices"
	"time"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// lifecycle is a container's hooks as the runtime runs them (vnode's
// lifecycle-hooks addition); nil without any.
func lifecycle(l wire.Lifecycle) *runtime.Lifecycle {
	if l.PostStart == nil && l.PreStop == nil {
		return nil
	}
	return &runtime.Lifecycle{PostStart: hook(l.PostStart), PreStop: hook(l.PreStop)}
}

func hook(h *wire.LifecycleHandler) *runtime.Hook {
	switch {
	case h == nil:
		return nil
	case h.Exec != nil:
		return &runtime.Hook{Exec: slices.Clone(h.Exec.Command)}
	case h.HTTPGet != nil:
		g := h.HTTPGet
		out := &runtime.HTTPGetHook{Host: g.Host, Port: g.Port, Path: g.Path, Scheme: g.Scheme}
		for _, hd := range g.HTTPHeaders {
			out.Headers = append(out.Headers, runtime.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		return &runtime.Hook{HTTPGet: out}
	case h.Sleep != nil:
		d := time.Duration(h.Sleep.Seconds) * time.Second
		return &runtime.Hook{Sleep: &d}
	}
	// tcpSocket (validation lets nothing else through): the kubelet fails it.
	return &runtime.Hook{TCPSocket: true}
}

// gracePeriod is the group's termination grace period, nil when the PUT
// set none.
func gracePeriod(ext wire.GroupExtensions) *time.Duration {
	if ext.TerminationGracePeriodSeconds == nil {
		return nil
	}
	d := time.Duration(*ext.TerminationGracePeriodSeconds) * time.Second
	return &d
}
