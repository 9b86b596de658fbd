package backend

import (
	"context"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// ContainerIO is implemented by backends that reach into running
// workloads: what the kubelet API serves for logs, exec, attach,
// port-forward and stats. The agent serves those routes only for backends
// that implement it.
type ContainerIO interface {
	// Logs writes a container's log to w as options ask; with Follow it
	// keeps writing (and w is expected to flush) until the container stops
	// or ctx ends. A workload or container the backend does not have gives
	// an error wrapping ErrNotFound.
	Logs(ctx context.Context, pod PodRef, container string, opts LogOptions, w io.Writer) error
	// Exec runs cmd (argv) in a running container. A command that ran and
	// exited non-zero returns an error satisfying k8s.io/utils/exec.ExitError
	// (for example k8s.io/client-go/util/exec.CodeExitError) with its code.
	Exec(ctx context.Context, pod PodRef, container string, cmd []string, s Streams) error
	// Attach connects s to a running container's main process.
	Attach(ctx context.Context, pod PodRef, container string, s Streams) error
	// PortForward copies data between stream and port of the workload until
	// either side closes.
	PortForward(ctx context.Context, pod PodRef, port int32, stream io.ReadWriteCloser) error
	// Stats returns the resource usage of every running workload.
	Stats(ctx context.Context) ([]PodStats, error)
}

// PodRef names the pod a request is about.
type PodRef struct {
	UID       types.UID
	Namespace string
	Name      string
}

// LogOptions are the kubelet's log options (corev1.PodLogOptions, resolved).
type LogOptions struct {
	Follow     bool
	Timestamps bool
	// Previous asks for the log of the container's previous run.
	Previous bool
	// TailLines, when not nil, returns only the last lines.
	TailLines *int64
	// SinceTime, when not zero, drops lines written before it.
	SinceTime time.Time
	// LimitBytes, when not nil, stops after that many bytes.
	LimitBytes *int64
}

// Streams are the streams of an exec or attach session. Nil streams were
// not requested. Stdout and Stderr are closed by the caller.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	// Resize delivers terminal sizes while TTY is set; it may be nil.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's dimensions.
type TerminalSize struct {
	Width, Height uint16
}

// PodStats is one workload's resource usage at a point in time.
type PodStats struct {
	Pod        PodRef
	Time       time.Time
	StartTime  time.Time
	Containers []ContainerStats
	// Network is the traffic of the workload's interface, nil when the
	// backend cannot tell.
	Network *NetworkStats
}

// NetworkStats are the counters of a workload's network interface since
// it started.
type NetworkStats struct {
	Interface                            string
	RxBytes, RxErrors, TxBytes, TxErrors uint64
}

// ContainerStats is one container's resource usage.
type ContainerStats struct {
	Name      string
	StartTime time.Time
	// UsageNanoCores is the current CPU use; UsageCoreNanoSeconds the
	// cumulative CPU time.
	UsageNanoCores       uint64
	UsageCoreNanoSeconds uint64
	// WorkingSetBytes is the memory working set; UsageBytes all memory in
	// use, page cache included (zero: unknown, the working set stands for
	// it); RSSBytes the anonymous memory (zero: unknown).
	WorkingSetBytes uint64
	UsageBytes      uint64
	RSSBytes        uint64
	// Probes counts the container's probe results, when the backend
	// runs its probes and says.
	Probes []ProbeCount
}

// ProbeCount is how many times a container's probe of one type
// ("Liveness", "Readiness", "Startup") had one result ("successful",
// "failed").
type ProbeCount struct {
	Probe, Result string
	Count         uint64
}
