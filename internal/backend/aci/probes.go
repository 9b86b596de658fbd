package aci

import (
	"fmt"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/internal/wire"
)

// probeResult is a converted probe: the ACI probe, or a tcpSocket addition
// (vnode's extension), or nothing with a warning saying why it was dropped.
type probeResult struct {
	probe   *aci.ContainerProbe
	tcp     *wire.TCPSocket
	warning string
}

// convertProbe converts a Kubernetes probe. exec and httpGet map to ACI's;
// tcpSocket needs the service's tcp-socket extension and is dropped with a
// warning without it (a pod runs without the probe rather than not at all);
// gRPC probes are dropped likewise.
func convertProbe(p *corev1.Probe, c corev1.Container, kind string, tcpSocket bool) (probeResult, error) {
	if p == nil {
		return probeResult{}, nil
	}
	timing := &aci.ContainerProbe{
		InitialDelaySeconds: nonZero(p.InitialDelaySeconds),
		PeriodSeconds:       nonZero(p.PeriodSeconds),
		FailureThreshold:    nonZero(p.FailureThreshold),
		SuccessThreshold:    nonZero(p.SuccessThreshold),
		TimeoutSeconds:      nonZero(p.TimeoutSeconds),
	}
	switch {
	case p.Exec != nil:
		timing.Exec = &aci.ContainerExec{Command: ptrs(p.Exec.Command)}
		return probeResult{probe: timing}, nil
	case p.HTTPGet != nil:
		port, err := resolvePort(p.HTTPGet.Port, c)
		if err != nil {
			return probeResult{}, fmt.Errorf("%s probe of container %q: %w", kind, c.Name, err)
		}
		h := &aci.ContainerHTTPGet{Port: ptr(port), Path: ptr(p.HTTPGet.Path)}
		if p.HTTPGet.Scheme != "" {
			h.Scheme = ptr(aci.Scheme(p.HTTPGet.Scheme))
		}
		for _, hd := range p.HTTPGet.HTTPHeaders {
			h.HTTPHeaders = append(h.HTTPHeaders, &aci.HTTPHeader{Name: ptr(hd.Name), Value: ptr(hd.Value)})
		}
		timing.HTTPGet = h
		return probeResult{probe: timing}, nil
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return probeResult{}, fmt.Errorf("%s probe of container %q: %w", kind, c.Name, err)
		}
		if !tcpSocket {
			return probeResult{warning: fmt.Sprintf("%s probe of container %q dropped: container instances have no tcpSocket probes",
				kind, c.Name)}, nil
		}
		// The timing travels in an exec-less ACI probe; the action is the addition.
		return probeResult{probe: timing, tcp: &wire.TCPSocket{Port: port}}, nil
	default:
		return probeResult{warning: fmt.Sprintf("%s probe of container %q dropped: container instances support exec and httpGet probes only",
			kind, c.Name)}, nil
	}
}

// resolvePort resolves a probe's port, by number or by the name of one of
// the container's ports.
func resolvePort(p intstr.IntOrString, c corev1.Container) (int32, error) {
	if p.Type == intstr.Int {
		return p.IntVal, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("no port named %q", p.StrVal)
}

func nonZero(v int32) *int32 {
	if v == 0 {
		return nil
	}
	return ptr(v)
}

func ptrs(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = ptr(ss[i])
	}
	return out
}
