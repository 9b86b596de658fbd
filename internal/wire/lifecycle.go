package wire

// The lifecycle-hooks extension: each container's postStart and preStop
// hooks, in its properties as Kubernetes writes them,
//
//	"lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "…"]}},
//	              "preStop": {"httpGet": {"path": "/drain", "port": 8080}}}
//
// and the group's termination grace period, which bounds a preStop hook and
// its sleep action, in the group's properties:
//
//	"terminationGracePeriodSeconds": 30

// Lifecycle is a container's hooks: PostStart runs right after the
// container starts, PreStop before it is sent its stop signal.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`
}

// LifecycleHandler is one hook's action: exactly one field is set. A
// TCPSocket action is Kubernetes' deprecated one, which the kubelet keeps
// for compatibility and fails when it runs; it is passed on so that the
// service fails it alike.
type LifecycleHandler struct {
	Exec      *ExecAction    `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction `json:"httpGet,omitempty"`
	Sleep     *SleepAction   `json:"sleep,omitempty"`
	TCPSocket *TCPSocket     `json:"tcpSocket,omitempty"`
}

// ExecAction runs Command in the container.
type ExecAction struct {
	Command []string `json:"command"`
}

// HTTPGetAction sends a GET request to Port (a number: the agent resolves
// a named port) of Host, the group's IP when empty.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        int32        `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// SleepAction waits Seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// addLifecycle records a container's hooks.
func (e *GroupExtensions) addLifecycle(container string, l *Lifecycle) {
	if l == nil || l.PostStart == nil && l.PreStop == nil {
		return
	}
	if e.Lifecycle == nil {
		e.Lifecycle = map[string]Lifecycle{}
	}
	e.Lifecycle[container] = *l
}
