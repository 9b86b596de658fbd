package aci

import (
	"encoding/json"
	"fmt"
	"math"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vnode-io/vnode/internal/wire"
)

// probeResult is a converted probe: the ACI probe, or a tcpSocket or grpc
// addition (vnode's extensions), or nothing with a warning saying why it
// was dropped.
type probeResult struct {
	probe   *aci.ContainerProbe
	tcp     *wire.TCPSocket
	grpc    *wire.GRPC
	warning string
}

// convertProbe converts a Kubernetes probe. exec and httpGet map to ACI's;
// tcpSocket needs the service's tcp-socket extension and grpc its
// grpc-probe extension, and each is dropped with a warning without it (a
// pod runs without the probe rather than not at all).
func convertProbe(p *corev1.Probe, c corev1.Container, kind string, o convertOptions) (probeResult, error) {
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
		if !o.tcpSocket {
			return probeResult{warning: fmt.Sprintf("%s probe of container %q dropped: container instances have no tcpSocket probes",
				kind, c.Name)}, nil
		}
		// The timing travels in an exec-less ACI probe; the action is the addition.
		return probeResult{probe: timing, tcp: &wire.TCPSocket{Port: port}}, nil
	case p.GRPC != nil:
		if !o.grpcProbe {
			return probeResult{warning: fmt.Sprintf("%s probe of container %q dropped: container instances have no grpc probes",
				kind, c.Name)}, nil
		}
		g := &wire.GRPC{Port: p.GRPC.Port}
		if p.GRPC.Service != nil {
			g.Service = *p.GRPC.Service
		}
		return probeResult{probe: timing, grpc: g}, nil
	default:
		return probeResult{warning: fmt.Sprintf("%s probe of container %q dropped: container instances support exec and httpGet probes only",
			kind, c.Name)}, nil
	}
}

// startupProbe converts a container's startup probe. The service's
// startup-probe extension runs it as a kubelet does. Without it (Azure)
// the probe cannot run, and what it is for is kept as far as ACI allows:
// the liveness probe waits as long as the startup probe would have given
// the container (its initial delay plus period times failure threshold)
// before it starts, so that a slow start is not killed; the pod gets a
// warning saying so.
func (s *groupSpec) startupProbe(c corev1.Container, props *aci.ContainerProperties, o convertOptions) error {
	p := c.StartupProbe
	if p == nil {
		return nil
	}
	if !o.startupProbe {
		live := props.LivenessProbe
		if live == nil {
			s.warnings = append(s.warnings, fmt.Sprintf("startup probe of container %q dropped: container instances have no startup probes",
				c.Name))
			return nil
		}
		period, failures := p.PeriodSeconds, p.FailureThreshold
		if period <= 0 {
			period = 10
		}
		if failures <= 0 {
			failures = 3
		}
		delay := min(int64(deref(live.InitialDelaySeconds))+int64(p.InitialDelaySeconds)+int64(period)*int64(failures), math.MaxInt32)
		live.InitialDelaySeconds = ptr(int32(delay))
		s.warnings = append(s.warnings, fmt.Sprintf("startup probe of container %q folded into its liveness probe, "+
			"which waits %ds before it starts: container instances have no startup probes", c.Name, delay))
		return nil
	}
	res, err := convertProbe(p, c, "startup", o)
	if err != nil {
		return err
	}
	if res.warning != "" {
		s.warnings = append(s.warnings, res.warning)
		return nil
	}
	wp, err := wireProbe(res)
	if err != nil {
		return fmt.Errorf("startup probe of container %q: %w", c.Name, err)
	}
	if s.ext.StartupProbes == nil {
		s.ext.StartupProbes = map[string]wire.Probe{}
	}
	s.ext.StartupProbes[c.Name] = wp
	return nil
}

// wireProbe is a converted probe as vnode's startupProbe addition: the
// ACI probe's JSON with the tcpSocket or grpc action beside it.
func wireProbe(res probeResult) (wire.Probe, error) {
	var out wire.Probe
	data, err := json.Marshal(res.probe)
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		return wire.Probe{}, err
	}
	out.TCPSocket, out.GRPC = res.tcp, res.grpc
	return out, nil
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
