// This file reads and writes vnode's additions to the JSON of an ACI
// container group, which the Azure SDK's types drop when they decode
// it. Each addition sits where Kubernetes would put it:
//
//   - the tcpSocket action of a container's liveness and readiness probes
//     (ACI offers exec and httpGet only):
//     "livenessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 5}
//   - environment variables whose value is the group's IP, set once the
//     group has its address and before its containers start:
//     {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
//   - the group's hostname, the fully qualified name that /etc/hosts gives
//     the group's IP, and host aliases (more /etc/hosts entries), in the
//     group's properties: "hostname", "fqdn", "hostAliases"
//   - the args of a container or init container, which follow the image's
//     entrypoint (or the command, which replaces it) as Kubernetes' args do:
//     "args": ["-c", "echo hello"] beside "command" in its properties
//   - where each (init) container writes its termination message and how
//     it is read, in its properties, as Kubernetes names them:
//     "terminationMessagePath": "/dev/termination-log",
//     "terminationMessagePolicy": "FallbackToLogsOnError"
//   - what a (init) container's security context and the pod's say beyond
//     ACI's securityContext (runAsNonRoot, readOnlyRootFilesystem, the
//     seccomp profile's type; supplemental groups and sysctls), in the
//     container's and the group's "securityContext" (see security.go)
//   - the gRPC action of a container's probes (the gRPC health checking
//     protocol; ACI has no such probes): "grpc": {"port": 9000, "service": "db"}
//   - a container's startup probe (ACI has none), in the shape of ACI's
//     probes with the actions above: "startupProbe": {"httpGet": {"port": 80,
//     "path": "/started"}, "periodSeconds": 1, "failureThreshold": 30}
//   - whether each container has started (its startup probe succeeded, or it
//     runs and has none) in its instance view ("started"), written by the
//     service only
//   - the image each (init) container runs, as its digest reference, in its
//     instance view ("imageID"), written by the service only
//   - each container's postStart and preStop hooks, in its properties, and
//     the group's terminationGracePeriodSeconds, in the group's properties
//     (see Lifecycle)
//   - each container's readiness in its instance view ("ready"), and the
//     termination message of a terminated current or previous state
//     ("message" in "currentState" and "previousState"), written by the
//     service only.
//
// The service keeps additions by writing them back into the container
// group JSON it stores and returns, so they survive restarts and appear in
// GET answers.

package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// TCPSocket is a probe action that succeeds when a TCP connection to Port
// on the group's IP opens.
type TCPSocket struct {
	Port int32 `json:"port"`
}

// GRPC is a probe action that asks the gRPC health service on Port of the
// group's IP for the health of Service ("" is the server as a whole), as
// Kubernetes' grpc probes do.
type GRPC struct {
	Port    int32  `json:"port"`
	Service string `json:"service,omitempty"`
}

// Probes are the additions to one container's probes.
type Probes struct {
	Liveness, Readiness *TCPSocket
	// LivenessGRPC and ReadinessGRPC are their probes' grpc actions.
	LivenessGRPC, ReadinessGRPC *GRPC
}

// Probe is a whole probe in the JSON shape of ACI's probes, with vnode's
// actions beside ACI's: exactly one of Exec, HTTPGet, TCPSocket and GRPC is
// set. It carries startup probes, which ACI lacks.
type Probe struct {
	Exec                *ProbeExec    `json:"exec,omitempty"`
	HTTPGet             *ProbeHTTPGet `json:"httpGet,omitempty"`
	TCPSocket           *TCPSocket    `json:"tcpSocket,omitempty"`
	GRPC                *GRPC         `json:"grpc,omitempty"`
	InitialDelaySeconds *int32        `json:"initialDelaySeconds,omitempty"`
	PeriodSeconds       *int32        `json:"periodSeconds,omitempty"`
	FailureThreshold    *int32        `json:"failureThreshold,omitempty"`
	SuccessThreshold    *int32        `json:"successThreshold,omitempty"`
	TimeoutSeconds      *int32        `json:"timeoutSeconds,omitempty"`
}

// ProbeExec is a probe's command, as ACI writes it.
type ProbeExec struct {
	Command []string `json:"command"`
}

// ProbeHTTPGet is a probe's HTTP GET, as ACI writes it.
type ProbeHTTPGet struct {
	Path        string       `json:"path,omitempty"`
	Port        int32        `json:"port"`
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is a header of a probe's or a hook's HTTP GET.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// The field paths an environment variable may take its value from.
const (
	FieldPodIP  = "status.podIP"
	FieldPodIPs = "status.podIPs"
)

// FieldEnv is an environment variable whose value the service fills in
// from the group (FieldPath is FieldPodIP or FieldPodIPs).
type FieldEnv struct {
	Name      string
	FieldPath string
}

// DefaultTerminationMessagePath is where a container writes its
// termination message unless its terminationMessagePath says otherwise, as
// in Kubernetes.
const DefaultTerminationMessagePath = "/dev/termination-log"

// The termination message policies, as Kubernetes names them: the message
// is what the container wrote to its file; with FallbackToLogsOnError, when
// that is empty and the container failed, the tail of its log.
const (
	TerminationMessageFile                  = "File"
	TerminationMessageFallbackToLogsOnError = "FallbackToLogsOnError"
)

// TerminationMessage is where a container writes its termination message
// and how the message is read.
type TerminationMessage struct {
	// Path is an absolute path in the container; empty means no file.
	Path string
	// Policy is TerminationMessageFile (when empty) or
	// TerminationMessageFallbackToLogsOnError.
	Policy string
}

// HostAlias is an /etc/hosts entry: IP and the names it answers to.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

// GroupExtensions are a group's additions; the zero value has none.
type GroupExtensions struct {
	// Probes holds the tcpSocket probe actions by container name.
	Probes map[string]Probes
	// FieldEnv holds, by (init) container name, the variables filled from
	// the group.
	FieldEnv map[string][]FieldEnv
	// Hostname is the group's hostname; the group's name when empty.
	Hostname string
	// FQDN, when set, is written to /etc/hosts with Hostname for the
	// group's IP, as the kubelet does for a pod with a subdomain.
	FQDN string
	// HostAliases are further /etc/hosts entries.
	HostAliases []HostAlias
	// TerminationMessages holds, by (init) container name, where each
	// writes its termination message.
	TerminationMessages map[string]TerminationMessage
	// Args holds, by (init) container name, the arguments that follow
	// the image's entrypoint, or the command when one is set (no entry:
	// none, and without a command the image's own arguments).
	Args map[string][]string
	// Security holds, by (init) container name, what its security
	// context says beyond ACI's securityContext.
	Security map[string]ContainerSecurity
	// PodSecurity is what the pod's security context says for the whole
	// group: supplemental groups and sysctls.
	PodSecurity PodSecurity
	// StartupProbes holds the containers' startup probes by name.
	StartupProbes map[string]Probe
	// FileModes holds, by secret volume name, the mode of its files by
	// file name (permission bits; a file without one is 0644).
	FileModes map[string]map[string]int32
	// EmptyDirs holds, by emptyDir volume name, its medium and size limit
	// when it has either.
	EmptyDirs map[string]EmptyDir
	// FSGroup, when set, is the group that owns the group's volumes and
	// that every container has among its supplementary groups.
	FSGroup *int64
	// FSGroupChangePolicy is FSGroupChangeAlways (when empty) or
	// FSGroupChangeOnRootMismatch.
	FSGroupChangePolicy string
	// SubPaths holds, by (init) container name, the subPath of its volume
	// mounts by mount path: the file or directory of the volume mounted.
	SubPaths map[string]map[string]string
	// Lifecycle holds, by container name, its postStart and preStop hooks
	// (see Lifecycle).
	Lifecycle map[string]Lifecycle
	// TerminationGracePeriodSeconds, when set, is the group's grace period
	// (Kubernetes' terminationGracePeriodSeconds): what a container killed
	// for a failed hook or probe is given for its preStop hook and its
	// exit, and the bound of sleep actions.
	TerminationGracePeriodSeconds *int64
}

// IsZero reports whether e holds no addition.
func (e GroupExtensions) IsZero() bool {
	return len(e.Probes) == 0 && len(e.FieldEnv) == 0 && e.Hostname == "" && e.FQDN == "" && len(e.HostAliases) == 0 &&
		len(e.TerminationMessages) == 0 && len(e.Args) == 0 && len(e.Security) == 0 && e.PodSecurity.IsZero() &&
		len(e.StartupProbes) == 0 && e.volumesZero() && len(e.Lifecycle) == 0 && e.TerminationGracePeriodSeconds == nil
}

// Equal reports whether e and o hold the same additions.
func (e GroupExtensions) Equal(o GroupExtensions) bool {
	if e.IsZero() && o.IsZero() {
		return true
	}
	return reflect.DeepEqual(e, o)
}

// probeJSON is where an addition sits in a probe.
type probeJSON struct {
	TCPSocket *TCPSocket `json:"tcpSocket"`
	GRPC      *GRPC      `json:"grpc"`
}

type envJSON struct {
	Name      string `json:"name"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `json:"fieldPath"`
		} `json:"fieldRef"`
	} `json:"valueFrom"`
}

// terminationJSON is where a container's termination message settings sit
// in its properties.
type terminationJSON struct {
	Path   string `json:"terminationMessagePath"`
	Policy string `json:"terminationMessagePolicy"`
}

// groupJSON is the part of a container group's JSON that holds additions.
type groupJSON struct {
	Properties struct {
		Hostname    string      `json:"hostname"`
		FQDN        string      `json:"fqdn"`
		HostAliases []HostAlias `json:"hostAliases"`
		GracePeriod *int64      `json:"terminationGracePeriodSeconds"`
		Containers  []struct {
			Name       string `json:"name"`
			Properties struct {
				LivenessProbe  *probeJSON `json:"livenessProbe"`
				ReadinessProbe *probeJSON `json:"readinessProbe"`
				StartupProbe   *Probe     `json:"startupProbe"`
				Env            []envJSON  `json:"environmentVariables"`
				terminationJSON
				Args      []string   `json:"args"`
				Lifecycle *Lifecycle `json:"lifecycle"`
			} `json:"properties"`
		} `json:"containers"`
		InitContainers []struct {
			Name       string `json:"name"`
			Properties struct {
				Env []envJSON `json:"environmentVariables"`
				terminationJSON
				Args []string `json:"args"`
			} `json:"properties"`
		} `json:"initContainers"`
	} `json:"properties"`
}

// ParseGroup finds the additions in a container group's JSON.
func ParseGroup(raw []byte) (GroupExtensions, error) {
	var g groupJSON
	if err := json.Unmarshal(raw, &g); err != nil {
		return GroupExtensions{}, fmt.Errorf("read vnode's additions: %w", err)
	}
	ext := GroupExtensions{Hostname: g.Properties.Hostname, FQDN: g.Properties.FQDN, HostAliases: g.Properties.HostAliases,
		TerminationGracePeriodSeconds: g.Properties.GracePeriod}
	for _, c := range g.Properties.Containers {
		var p Probes
		if lp := c.Properties.LivenessProbe; lp != nil {
			p.Liveness, p.LivenessGRPC = lp.TCPSocket, lp.GRPC
		}
		if rp := c.Properties.ReadinessProbe; rp != nil {
			p.Readiness, p.ReadinessGRPC = rp.TCPSocket, rp.GRPC
		}
		if p != (Probes{}) {
			if ext.Probes == nil {
				ext.Probes = map[string]Probes{}
			}
			ext.Probes[c.Name] = p
		}
		if sp := c.Properties.StartupProbe; sp != nil {
			if ext.StartupProbes == nil {
				ext.StartupProbes = map[string]Probe{}
			}
			ext.StartupProbes[c.Name] = *sp
		}
		ext.addFieldEnv(c.Name, c.Properties.Env)
		ext.addTermination(c.Name, c.Properties.terminationJSON)
		ext.addArgs(c.Name, c.Properties.Args)
		ext.addLifecycle(c.Name, c.Properties.Lifecycle)
	}
	for _, c := range g.Properties.InitContainers {
		ext.addFieldEnv(c.Name, c.Properties.Env)
		ext.addTermination(c.Name, c.Properties.terminationJSON)
		ext.addArgs(c.Name, c.Properties.Args)
	}
	if err := ext.parseSecurity(raw); err != nil {
		return GroupExtensions{}, err
	}
	if err := ext.parseVolumes(raw); err != nil {
		return GroupExtensions{}, err
	}
	return ext, nil
}

// addTermination records a (init) container's termination message settings.
func (e *GroupExtensions) addTermination(container string, t terminationJSON) {
	if t.Path == "" && t.Policy == "" {
		return
	}
	if e.TerminationMessages == nil {
		e.TerminationMessages = map[string]TerminationMessage{}
	}
	e.TerminationMessages[container] = TerminationMessage(t)
}

// addArgs records a (init) container's args; an empty list is none, as
// in Kubernetes.
func (e *GroupExtensions) addArgs(container string, args []string) {
	if len(args) == 0 {
		return
	}
	if e.Args == nil {
		e.Args = map[string][]string{}
	}
	e.Args[container] = args
}

// addFieldEnv records the variables of container filled from the group.
func (e *GroupExtensions) addFieldEnv(container string, env []envJSON) {
	for _, v := range env {
		if v.ValueFrom == nil || v.ValueFrom.FieldRef == nil {
			continue
		}
		if e.FieldEnv == nil {
			e.FieldEnv = map[string][]FieldEnv{}
		}
		e.FieldEnv[container] = append(e.FieldEnv[container], FieldEnv{Name: v.Name, FieldPath: v.ValueFrom.FieldRef.FieldPath})
	}
}

// GroupAdditions are what vnode writes into a container group's JSON.
type GroupAdditions struct {
	GroupExtensions
	// Ready, when not nil, is each container's readiness, written as
	// "ready" into its instance view (false for containers it lacks): a
	// field ACI does not have, which ACI's clients ignore and vnode's
	// agent reads for the pod's Ready condition.
	Ready map[string]bool
	// Messages holds, by (init) container name, the termination messages of
	// its terminated states, written as "message" into the current and
	// previous state of its instance view.
	Messages map[string]StateMessages
	// Started, when not nil, is whether each container has started,
	// written as "started" into its instance view (false for containers
	// it lacks), as Ready is.
	Started map[string]bool
	// ImageIDs holds, by (init) container name, the digest reference of
	// the image it runs, written as "imageID" into its instance view.
	ImageIDs map[string]string
}

// StateMessages are a container's termination messages: of its current
// state and of its previous one ("" when the state is not terminated or has
// none).
type StateMessages struct {
	Current, Previous string
}

// ApplyGroup writes a into a container group's JSON (as the SDK encodes it) in
// one pass; with nothing to add it returns raw unchanged.
func ApplyGroup(raw []byte, a GroupAdditions) ([]byte, error) {
	if a.IsZero() && a.Ready == nil && len(a.Messages) == 0 && a.Started == nil && len(a.ImageIDs) == 0 {
		return raw, nil
	}
	var g map[string]any
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("write vnode's additions: %w", err)
	}
	props, _ := g["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		g["properties"] = props
	}
	if a.Hostname != "" {
		props["hostname"] = a.Hostname
	}
	if a.FQDN != "" {
		props["fqdn"] = a.FQDN
	}
	if len(a.HostAliases) > 0 {
		props["hostAliases"] = a.HostAliases
	}
	if a.TerminationGracePeriodSeconds != nil {
		props["terminationGracePeriodSeconds"] = *a.TerminationGracePeriodSeconds
	}
	containers, _ := props["containers"].([]any)
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		cp, _ := cm["properties"].(map[string]any)
		if cp == nil {
			continue
		}
		if p, ok := a.Probes[name]; ok {
			addProbe(cp, "livenessProbe", p.Liveness, p.LivenessGRPC)
			addProbe(cp, "readinessProbe", p.Readiness, p.ReadinessGRPC)
		}
		if sp, ok := a.StartupProbes[name]; ok {
			cp["startupProbe"] = sp
		}
		if l, ok := a.Lifecycle[name]; ok {
			cp["lifecycle"] = l
		}
		if iv, ok := cp["instanceView"].(map[string]any); ok && a.Ready != nil {
			iv["ready"] = a.Ready[name]
		}
		if iv, ok := cp["instanceView"].(map[string]any); ok && a.Started != nil {
			iv["started"] = a.Started[name]
		}
		a.applyContainer(name, cp)
	}
	a.applyPodSecurity(props)
	inits, _ := props["initContainers"].([]any)
	for _, c := range inits {
		cm, _ := c.(map[string]any)
		name, _ := cm["name"].(string)
		if cp, _ := cm["properties"].(map[string]any); cp != nil {
			a.applyContainer(name, cp)
		}
	}
	a.applyVolumes(props)
	out, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("write vnode's additions: %w", err)
	}
	return out, nil
}

// applyContainer writes the additions that containers and init containers
// share into the properties of container name.
func (a GroupAdditions) applyContainer(name string, props map[string]any) {
	if vars := a.FieldEnv[name]; len(vars) > 0 {
		addFieldEnv(props, vars)
	}
	if args := a.Args[name]; len(args) > 0 {
		props["args"] = args
	}
	a.applyContainerSecurity(name, props)
	if t, ok := a.TerminationMessages[name]; ok {
		setString(props, "terminationMessagePath", t.Path)
		setString(props, "terminationMessagePolicy", t.Policy)
	}
	if id := a.ImageIDs[name]; id != "" {
		if iv, ok := props["instanceView"].(map[string]any); ok {
			iv["imageID"] = id
		}
	}
	if m, ok := a.Messages[name]; ok {
		iv, _ := props["instanceView"].(map[string]any)
		for key, msg := range map[string]string{"currentState": m.Current, "previousState": m.Previous} {
			if state, ok := iv[key].(map[string]any); ok {
				setString(state, "message", msg)
			}
		}
	}
}

// setString sets key to v in m unless v is empty.
func setString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// addProbe writes a tcpSocket or grpc action into a container's probe key.
func addProbe(props map[string]any, key string, tcp *TCPSocket, grpc *GRPC) {
	if tcp == nil && grpc == nil {
		return
	}
	probe, _ := props[key].(map[string]any)
	if probe == nil {
		probe = map[string]any{}
		props[key] = probe
	}
	if tcp != nil {
		probe["tcpSocket"] = map[string]any{"port": tcp.Port}
	}
	if grpc != nil {
		probe["grpc"] = grpc
	}
}

// addFieldEnv writes valueFrom into the container's variables of vars,
// adding the variables it lacks.
func addFieldEnv(props map[string]any, vars []FieldEnv) {
	env, _ := props["environmentVariables"].([]any)
	for _, v := range vars {
		ref := map[string]any{"fieldRef": map[string]any{"fieldPath": v.FieldPath}}
		found := false
		for _, e := range env {
			if em, ok := e.(map[string]any); ok && em["name"] == v.Name {
				em["valueFrom"], found = ref, true
				delete(em, "value")
			}
		}
		if !found {
			env = append(env, map[string]any{"name": v.Name, "valueFrom": ref})
		}
	}
	props["environmentVariables"] = env
}
