package aci

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/wire"
)

// setLifecycle passes each container's postStart and preStop hooks on to
// the service, when it runs them (its lifecycle-hooks extension, on), with
// the pod's termination grace period, which bounds them. Container
// instances have no hooks: without the extension (Azure) a pod with hooks
// cannot run as written, and its error names the container and the hook.
// A named port resolves against the container's ports, as for probes.
func (s *groupSpec) setLifecycle(pod *corev1.Pod, on bool) error {
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = min(max(*g, 0), wire.MaxGracePeriodSeconds)
	}
	for _, c := range pod.Spec.Containers {
		l := c.Lifecycle
		if l == nil || l.PostStart == nil && l.PreStop == nil {
			continue
		}
		var out wire.Lifecycle
		for _, h := range []struct {
			kind string
			in   *corev1.LifecycleHandler
			out  **wire.LifecycleHandler
		}{{"postStart", l.PostStart, &out.PostStart}, {"preStop", l.PreStop, &out.PreStop}} {
			if h.in == nil {
				continue
			}
			if !on {
				return fmt.Errorf("container %q has a %s hook: container instances run no lifecycle hooks", c.Name, h.kind)
			}
			wh, err := wireHook(h.in, c, grace)
			if err != nil {
				return fmt.Errorf("%s hook of container %q: %w", h.kind, c.Name, err)
			}
			*h.out = wh
		}
		if s.ext.Lifecycle == nil {
			s.ext.Lifecycle = map[string]wire.Lifecycle{}
		}
		s.ext.Lifecycle[c.Name] = out
	}
	if len(s.ext.Lifecycle) > 0 {
		s.ext.TerminationGracePeriodSeconds = &grace
	}
	return nil
}

// wireHook converts one hook. A sleep longer than grace (which the API
// server refuses, unless grace was cut to the service's bound) sleeps for
// grace: the grace period ends it all the same.
func wireHook(h *corev1.LifecycleHandler, c corev1.Container, grace int64) (*wire.LifecycleHandler, error) {
	switch {
	case h.Exec != nil:
		return &wire.LifecycleHandler{Exec: &wire.ExecAction{Command: h.Exec.Command}}, nil
	case h.HTTPGet != nil:
		port, err := resolvePort(h.HTTPGet.Port, c)
		if err != nil {
			return nil, err
		}
		g := &wire.HTTPGetAction{Path: h.HTTPGet.Path, Port: port, Host: h.HTTPGet.Host, Scheme: string(h.HTTPGet.Scheme)}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			g.HTTPHeaders = append(g.HTTPHeaders, wire.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		return &wire.LifecycleHandler{HTTPGet: g}, nil
	case h.Sleep != nil:
		return &wire.LifecycleHandler{Sleep: &wire.SleepAction{Seconds: min(h.Sleep.Seconds, grace)}}, nil
	case h.TCPSocket != nil:
		// Deprecated, and failed by the kubelet when it runs: so by the service.
		port, _ := resolvePort(h.TCPSocket.Port, c)
		return &wire.LifecycleHandler{TCPSocket: &wire.TCPSocket{Port: port}}, nil
	}
	return nil, fmt.Errorf("the hook has no action")
}
