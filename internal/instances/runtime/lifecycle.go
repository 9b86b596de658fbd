package runtime

import "time"

// Lifecycle is a container's hooks, as Kubernetes' lifecycle: PostStart runs
// right after the container starts, and the container counts as started
// only once it succeeded (a failure kills the container, whose restart
// policy then applies); PreStop runs before the container is sent its stop
// signal, within the grace period of the stop.
type Lifecycle struct {
	PostStart, PreStop *Hook
}

// Hook is one hook's action: exactly one of Exec, HTTPGet and Sleep is set,
// or TCPSocket.
type Hook struct {
	// Exec runs in the container, as an exec session does.
	Exec []string
	// HTTPGet sends a GET request from the group's network.
	HTTPGet *HTTPGetHook
	// Sleep, when not nil, is how long the hook waits.
	Sleep *time.Duration
	// TCPSocket marks Kubernetes' deprecated tcpSocket action, which the
	// kubelet fails when it runs; a runtime fails it alike.
	TCPSocket bool
}

// HTTPGetHook is a GET request to Port on Host (the group's IP when empty).
type HTTPGetHook struct {
	Host    string
	Port    int32
	Path    string
	Scheme  string
	Headers []HTTPHeader
}

// HTTPHeader is one header of a request; a name may come more than once.
type HTTPHeader struct {
	Name, Value string
}

// MinStopGrace is the least time a container is given after its stop
// signal, however much of the grace period its preStop hook took: the
// kubelet's minimum, which spares containers needless SIGKILLs.
const MinStopGrace = 2 * time.Second
