// Package groupext reads and writes vnode's additions to the JSON of an
// ACI container group, which the Azure SDK's types drop when they decode
// it: the tcpSocket action of a container's liveness and readiness probes
// (ACI offers exec and httpGet only), and each container's readiness in
// its instance view.
//
// A request carries an addition where Kubernetes would put it:
//
//	"livenessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 5}
//
// The service keeps additions by writing them back into the container
// group JSON it stores and returns, so they survive restarts and appear in
// GET answers.
package groupext

import (
	"encoding/json"
	"fmt"
)

// TCPSocket is a probe action that succeeds when a TCP connection to Port
// on the group's IP opens.
type TCPSocket struct {
	Port int32 `json:"port"`
}

// Probes are the additions to one container's probes.
type Probes struct {
	Liveness, Readiness *TCPSocket
}

// Extensions are a group's additions by container name; nil when it has none.
type Extensions map[string]Probes

// probeJSON is where an addition sits in a probe.
type probeJSON struct {
	TCPSocket *TCPSocket `json:"tcpSocket"`
}

// groupJSON is the part of a container group's JSON that holds additions.
type groupJSON struct {
	Properties struct {
		Containers []struct {
			Name       string `json:"name"`
			Properties struct {
				LivenessProbe  *probeJSON `json:"livenessProbe"`
				ReadinessProbe *probeJSON `json:"readinessProbe"`
			} `json:"properties"`
		} `json:"containers"`
	} `json:"properties"`
}

// Parse finds the additions in a container group's JSON.
func Parse(raw []byte) (Extensions, error) {
	var g groupJSON
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("read vnode's additions: %w", err)
	}
	var ext Extensions
	for _, c := range g.Properties.Containers {
		var p Probes
		if lp := c.Properties.LivenessProbe; lp != nil {
			p.Liveness = lp.TCPSocket
		}
		if rp := c.Properties.ReadinessProbe; rp != nil {
			p.Readiness = rp.TCPSocket
		}
		if p.Liveness != nil || p.Readiness != nil {
			if ext == nil {
				ext = Extensions{}
			}
			ext[c.Name] = p
		}
	}
	return ext, nil
}

// Additions are what vnode writes into a container group's JSON.
type Additions struct {
	// Probes are the tcpSocket actions of the containers' probes.
	Probes Extensions
	// Ready, when not nil, is each container's readiness, written as
	// "ready" into its instance view (false for containers it lacks): a
	// field ACI does not have, which ACI's clients ignore and vnode's
	// agent reads for the pod's Ready condition.
	Ready map[string]bool
}

// Apply writes a into a container group's JSON (as the SDK encodes it) in
// one pass; with nothing to add it returns raw unchanged.
func Apply(raw []byte, a Additions) ([]byte, error) {
	if len(a.Probes) == 0 && a.Ready == nil {
		return raw, nil
	}
	var g map[string]any
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("write vnode's additions: %w", err)
	}
	props, _ := g["properties"].(map[string]any)
	containers, _ := props["containers"].([]any)
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		cp, _ := cm["properties"].(map[string]any)
		if cp == nil {
			continue
		}
		if p, ok := a.Probes[name]; ok {
			addProbe(cp, "livenessProbe", p.Liveness)
			addProbe(cp, "readinessProbe", p.Readiness)
		}
		if iv, ok := cp["instanceView"].(map[string]any); ok && a.Ready != nil {
			iv["ready"] = a.Ready[name]
		}
	}
	out, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("write vnode's additions: %w", err)
	}
	return out, nil
}

// addProbe writes a tcpSocket action into a container's probe key.
func addProbe(props map[string]any, key string, tcp *TCPSocket) {
	if tcp == nil {
		return
	}
	probe, _ := props[key].(map[string]any)
	if probe == nil {
		probe = map[string]any{}
		props[key] = probe
	}
	probe["tcpSocket"] = map[string]any{"port": tcp.Port}
}
