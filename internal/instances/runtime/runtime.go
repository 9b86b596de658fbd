// Package runtime defines what the container instances service needs from
// whatever actually runs container groups: create, start, stop and remove a
// group's sandbox and containers, report their state and events, and stream
// logs, exec and attach sessions and stats.
//
// A runtime knows nothing of ARM: the service translates a container group
// into a GroupSpec (with secrets already decrypted) and the runtime's
// GroupStatus back into an instance view.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// ErrNotFound is returned (wrapped) for a group or container the runtime does not have.
var ErrNotFound = errors.New("not found")

// Runtime runs container groups. Implementations must be safe for concurrent
// use; every method that changes state must be idempotent, because the
// service retries operations after its own restart.
type Runtime interface {
	// Run creates the group's sandbox and containers (pulling images) and
	// starts them, running init containers first. It returns once the group
	// has been set in motion or has failed to; later changes are reported
	// through Watch. Calling Run for a group that exists is a no-op. Errors
	// a user caused are *Error with a Reason such as ReasonImagePull.
	Run(ctx context.Context, spec GroupSpec) error
	// Stop stops every container — SIGTERM, then SIGKILL after grace (the
	// runtime's default when grace <= 0) — and releases the group's
	// compute and IP; the group's spec is kept so that Run can start it
	// again.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Restart restarts the group's containers in place.
	Restart(ctx context.Context, id string) error
	// Remove stops the group's containers as Stop does and deletes
	// everything the group has; a missing group is not an error.
	Remove(ctx context.Context, id string, grace time.Duration) error
	// Status returns a group's current status, or ErrNotFound. It must
	// answer from memory without blocking: the service calls it holding
	// its lock.
	Status(ctx context.Context, id string) (GroupStatus, error)
	// List returns the status of every group the runtime has, running or not.
	List(ctx context.Context) ([]GroupStatus, error)
	// Watch calls notify with every change of a group's status, with the
	// events recorded since the previous call, until ctx ends. notify must
	// not block.
	Watch(ctx context.Context, notify func(Update))
	// Logs writes a container's log to w, and with opts.Follow what it
	// writes next until it stops.
	Logs(ctx context.Context, id, container string, opts LogOptions, w io.Writer) error
	// Exec runs cmd in a running container and returns its exit code.
	Exec(ctx context.Context, id, container string, cmd []string, s Streams) (int, error)
	// Attach connects s to a running container's main process.
	Attach(ctx context.Context, id, container string, s Streams) error
	// Stats returns the group's resource usage.
	Stats(ctx context.Context, id string) (GroupStats, error)
	// UpdateVolumes replaces all the files of each secret volume of the
	// group named in volumes with the files given there, in place: running
	// containers see the new files without a restart, and the group's spec
	// keeps them for its later runs and restarts. A stopped group only
	// keeps the new spec. A volume that is not one of the group's secret
	// volumes is an *Error with ReasonInvalidSpec; an unknown group
	// ErrNotFound.
	UpdateVolumes(ctx context.Context, id string, volumes []Volume) error
	// CachedImages lists the images the runtime holds locally.
	CachedImages(ctx context.Context) ([]string, error)
	// Close releases the runtime's resources; running groups keep running
	// when the runtime supports that.
	Close() error
}

// RestartPolicy is the group's container restart policy.
type RestartPolicy string

// The restart policies of ACI.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// GroupSpec is everything a runtime needs to run one container group.
type GroupSpec struct {
	// ID identifies this incarnation of the group; a re-created group with
	// the same name gets a new ID.
	ID string
	// Name is the group's name.
	Name string
	// Hostname is the sandbox's hostname; Name when empty.
	Hostname string
	// FQDN, when set, is the fully qualified name /etc/hosts gives the
	// group's IP beside Hostname.
	FQDN string
	// HostAliases are further /etc/hosts entries.
	HostAliases    []HostAlias
	Containers     []ContainerSpec
	InitContainers []ContainerSpec
	RestartPolicy  RestartPolicy
	Volumes        []Volume
	// Ports are the ports the group's IP exposes.
	Ports               []Port
	DNS                 *DNSConfig
	RegistryCredentials []RegistryCredential
	// Labels identify the group to humans and tools (resource id, tags).
	Labels map[string]string
	// SupplementalGroups are added to the process groups of every
	// container; SupplementalGroupsPolicy is wire.SupplementalGroupsMerge
	// (when empty) or wire.SupplementalGroupsStrict.
	SupplementalGroups       []int64
	SupplementalGroupsPolicy string
	// Sysctls are kernel parameters set in the group's namespaces, by
	// name (dotted, one of the safe set of package sysctl).
	Sysctls map[string]string
	// FSGroup, when set, owns the group's emptyDir, secret and gitRepo
	// volumes (group-readable, and group-writable but for secret volumes,
	// directories set-group-ID, as the kubelet's SetVolumeOwnership) and is
	// a supplementary group of every container.
	FSGroup *int64
	// FSGroupChangePolicy is FSGroupChangeAlways (when empty) or
	// FSGroupChangeOnRootMismatch: change only volumes whose root lacks
	// the ownership.
	FSGroupChangePolicy string
	// GracePeriod, when set, is what a container that the runtime kills
	// itself (a failed postStart hook, a failed liveness probe) is given
	// for its preStop hook and its exit, as a pod's
	// terminationGracePeriodSeconds; the runtime's default when nil.
	GracePeriod *time.Duration
}

// The fsGroup change policies, as Kubernetes names them.
const (
	FSGroupChangeAlways         = "Always"
	FSGroupChangeOnRootMismatch = "OnRootMismatch"
)

// ContainerSpec is one container of a group.
type ContainerSpec struct {
	Name  string
	Image string
	// Command replaces the image's entrypoint; Args follow it (or the
	// entrypoint when Command is empty), as Kubernetes' command and args:
	// with neither, the image's entrypoint and arguments run.
	Command []string
	Args    []string
	Env     []EnvVar
	// CPU and MemoryInGB are the requests; CPULimit and MemoryLimitInGB the
	// limits (zero: the request).
	CPU             float64
	MemoryInGB      float64
	CPULimit        float64
	MemoryLimitInGB float64
	GPU             int
	Ports           []Port
	VolumeMounts    []VolumeMount
	LivenessProbe   *Probe
	ReadinessProbe  *Probe
	SecurityContext *SecurityContext
	// TerminationMessagePath, when set, is where in the container a file
	// the container may write its termination message to is mounted;
	// TerminationMessagePolicy says how the message is read (see
	// TerminationMessage).
	TerminationMessagePath   string
	TerminationMessagePolicy string
	// StartupProbe, when set, runs first: the liveness and readiness
	// probes wait until it has succeeded, and its failure past the
	// threshold restarts the container.
	StartupProbe *Probe
	// Lifecycle, when set, holds the container's hooks (init containers
	// have none).
	Lifecycle *Lifecycle
}

// EnvVar is one environment variable; secure values arrive decrypted.
type EnvVar struct {
	Name   string
	Value  string
	Secure bool
	// FromField, when set, names the field of the group the runtime fills
	// Value from once the group has its IP (FieldPodIP or FieldPodIPs).
	FromField string
}

// The fields an environment variable may be filled from; both are the
// group's (single, IPv4) address.
const (
	FieldPodIP  = "status.podIP"
	FieldPodIPs = "status.podIPs"
)

// FillFieldEnv returns a copy of env with the variables filled from the
// group's fields set to their values; ip is the group's address.
func FillFieldEnv(env []EnvVar, ip string) []EnvVar {
	out := make([]EnvVar, len(env))
	for i, e := range env {
		if e.FromField == FieldPodIP || e.FromField == FieldPodIPs {
			e.Value = ip
		}
		out[i] = e
	}
	return out
}

// HostName returns the sandbox hostname of the group: Hostname, else Name.
func (s GroupSpec) HostName() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	return s.Name
}

// HostAlias is an /etc/hosts entry: an IP and the names it answers to.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// Port is a port and its protocol ("TCP" or "UDP").
type Port struct {
	Port     int32
	Protocol string
}

// VolumeMount mounts a group volume into a container.
type VolumeMount struct {
	Name      string
	MountPath string
	ReadOnly  bool
	// SubPath, when set, is the file or directory of the volume mounted
	// instead of the volume's root: a clean relative path without "..".
	// A missing one is created as a directory; it never resolves outside
	// the volume.
	SubPath string
}

// Volume is a group volume; exactly one source is set.
type Volume struct {
	Name     string
	EmptyDir bool
	// Medium is an emptyDir's medium: "" (disk) or MediumMemory (a tmpfs
	// of at most SizeLimit bytes, and never more than the group's memory).
	Medium string
	// SizeLimit, when positive, bounds an emptyDir on MediumMemory.
	SizeLimit int64
	Secret    map[string][]byte
	// FileModes holds the mode of a secret volume's files by name
	// (permission bits); files without one are 0644.
	FileModes map[string]uint32
	GitRepo   *GitRepoVolume
	AzureFile *AzureFileVolume
}

// MediumMemory is the medium of an emptyDir on a tmpfs.
const MediumMemory = "Memory"

// DefaultFileMode is the mode of a secret volume's file without one of
// its own, Kubernetes' default.
const DefaultFileMode = 0o644

// FileMode returns the mode of a secret volume's file.
func (v Volume) FileMode(name string) uint32 {
	if m, ok := v.FileModes[name]; ok {
		return m
	}
	return DefaultFileMode
}

// ReplaceVolumes returns a copy of current in which each secret volume
// named in updates has the files (and file modes) given there. An update naming no secret
// volume of current, or carrying no files map, is an *Error with
// ReasonInvalidSpec.
func ReplaceVolumes(current, updates []Volume) ([]Volume, error) {
	out := slices.Clone(current)
	for _, u := range updates {
		i := slices.IndexFunc(out, func(v Volume) bool { return v.Name == u.Name })
		switch {
		case i < 0:
			return nil, &Error{Reason: ReasonInvalidSpec, Message: fmt.Sprintf("the group has no volume %q", u.Name)}
		case out[i].Secret == nil:
			return nil, &Error{Reason: ReasonInvalidSpec, Message: fmt.Sprintf("volume %q is not a secret volume", u.Name)}
		case u.Secret == nil:
			return nil, &Error{Reason: ReasonInvalidSpec, Message: fmt.Sprintf("the update of volume %q has no files", u.Name)}
		}
		out[i].Secret = maps.Clone(u.Secret)
		out[i].FileModes = maps.Clone(u.FileModes)
	}
	return out, nil
}

// GitRepoVolume clones a repository into the volume.
type GitRepoVolume struct {
	Repository, Directory, Revision string
}

// AzureFileVolume is an Azure Files share.
type AzureFileVolume struct {
	ShareName, StorageAccountName, StorageAccountKey string
	ReadOnly                                         bool
}

// Probe is a liveness, readiness or startup probe; exactly one action
// (Exec, HTTPGet, TCPSocket, GRPC) is set.
type Probe struct {
	Exec                []string
	HTTPGet             *HTTPGetProbe
	TCPSocket           *TCPSocketProbe
	GRPC                *GRPCProbe
	InitialDelaySeconds int32
	PeriodSeconds       int32
	FailureThreshold    int32
	SuccessThreshold    int32
	TimeoutSeconds      int32
}

// TCPSocketProbe succeeds when a TCP connection to Port on the group's IP opens.
type TCPSocketProbe struct {
	Port int32
}

// GRPCProbe asks the gRPC health service (grpc.health.v1.Health) on Port
// of the group's IP for the health of Service ("": the server's).
type GRPCProbe struct {
	Port    int32
	Service string
}

// HTTPGetProbe probes a URL on the group's IP.
type HTTPGetProbe struct {
	Path    string
	Port    int32
	Scheme  string
	Headers map[string]string
}

// SecurityContext is a container's security settings.
type SecurityContext struct {
	Privileged               *bool
	AllowPrivilegeEscalation *bool
	RunAsUser                *int64
	RunAsGroup               *int64
	CapabilitiesAdd          []string
	CapabilitiesDrop         []string
	// SeccompProfile is a profile's JSON, base64-encoded, as ACI takes it.
	SeccompProfile string
	// RunAsNonRoot refuses to start the container as uid 0 (its RunAsUser,
	// else its image's user): it waits with CreateContainerConfigError.
	RunAsNonRoot bool
	// ReadOnlyRootFilesystem mounts the container's root read-only.
	ReadOnlyRootFilesystem bool
	// SeccompProfileType is wire.SeccompUnconfined for no profile; else
	// SeccompProfile, or the runtime's default profile.
	SeccompProfileType string
}

// DNSConfig is the group's resolver configuration.
type DNSConfig struct {
	NameServers   []string
	SearchDomains []string
	Options       []string
}

// RegistryCredential authenticates image pulls from Server.
type RegistryCredential struct {
	Server, Username, Password string
}

// The states of a container, as ACI names them.
const (
	StateWaiting    = "Waiting"
	StateRunning    = "Running"
	StateTerminated = "Terminated"
)

// GroupStatus is what a runtime knows of one group.
type GroupStatus struct {
	ID string
	// Generation orders reports: it is runtime-wide and larger for every
	// later change of any group, so a consumer can drop a report older
	// than one it has already applied (0: unknown, always applied).
	Generation uint64
	// IP is the group's address while it has a sandbox.
	IP string
	// Stopped is true after Stop until the next Run.
	Stopped        bool
	InitContainers []ContainerStatus
	Containers     []ContainerStatus
}

// ContainerStatus is one container's state.
type ContainerStatus struct {
	Name         string
	Current      ContainerState
	Previous     *ContainerState
	RestartCount int32
	// Ready is the readiness probe's verdict (true without a probe once running).
	Ready bool
	// Started is the startup probe's verdict: true once it has succeeded,
	// or without one once the container runs, until the container stops.
	Started bool
	// ImageID is the image the container runs, as its digest reference
	// (repository@sha256:…) when the runtime knows one: a kubelet's
	// imageID. Empty before the container was created.
	ImageID string
}

// ContainerState is a container's state at one time.
type ContainerState struct {
	// State is StateWaiting, StateRunning or StateTerminated.
	State      string
	StartTime  time.Time
	FinishTime time.Time
	ExitCode   int32
	// DetailStatus is the kubelet's reason for the state, as the backend
	// package names them (backend.ReasonCrashLoopBackOff, …), or the
	// runtime's own word where the kubelet has none.
	DetailStatus string
	// Message is a terminated container's termination message (see
	// TerminationMessage).
	Message string
}

// Event is something that happened to a group or one of its containers.
type Event struct {
	// Container is empty for group events.
	Container string
	// Name is the reason, such as Pulling, Pulled, Created, Started,
	// Killing, BackOff, Failed.
	Name    string
	Message string
	// Type is "Normal" or "Warning".
	Type string
	Time time.Time
}

// Update is a group's new status and the events since the last update.
type Update struct {
	Status GroupStatus
	Events []Event
	// Removed reports that the group no longer exists in the runtime.
	Removed bool
}

// LogOptions select part of a log.
type LogOptions struct {
	// Tail, when positive, returns only the last Tail lines.
	Tail int
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
	// Follow keeps writing new lines as the container writes them until
	// it stops running (or ctx ends); w should flush what it is given.
	Follow bool
	// Previous selects the log of the container's previous run; a
	// container without one gives ErrNoPreviousLog.
	Previous bool
	// Since, when not zero, drops lines written before it.
	Since time.Time
}

// ErrNoPreviousLog is returned for the previous log of a container that
// has not been restarted.
var ErrNoPreviousLog = errors.New("container has no previous run")

// TerminalSize is a terminal's dimensions.
type TerminalSize struct {
	Rows, Cols uint16
}

// Streams connects a process to a client. Nil members are not connected.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	// Resize delivers terminal size changes while TTY is set.
	Resize <-chan TerminalSize
}

// GroupStats is a group's resource usage at one time.
type GroupStats struct {
	Time       time.Time
	Containers []ContainerStats
	// Network is the traffic of the group's interface, nil when unknown.
	Network *NetworkStats
}

// ContainerStats is one container's usage.
type ContainerStats struct {
	Name string
	// CPUUsageNanoCores is the current CPU use; CPUUsageCoreNanoSeconds the total.
	CPUUsageNanoCores       uint64
	CPUUsageCoreNanoSeconds uint64
	MemoryWorkingSetBytes   uint64
	// MemoryUsageBytes is all memory in use, page cache included;
	// MemoryRSSBytes the anonymous memory and swap cache.
	MemoryUsageBytes uint64
	MemoryRSSBytes   uint64
	// Probes counts the container's probe results since the group was
	// deployed, across restarts, as the kubelet's prober_probe_total.
	Probes []ProbeCount
}

// The probe types and results a ProbeCount names, as the kubelet's
// prober metrics name them.
const (
	ProbeLiveness  = "Liveness"
	ProbeReadiness = "Readiness"
	ProbeStartup   = "Startup"

	ProbeSuccessful = "successful"
	ProbeFailed     = "failed"
)

// ProbeCount is how many times a container's probe of one type had one
// result.
type ProbeCount struct {
	Probe, Result string
	Count         uint64
}

// NetworkStats are the counters of a group's network interface since the
// group's sandbox was created.
type NetworkStats struct {
	Interface                            string
	RxBytes, RxErrors, TxBytes, TxErrors uint64
}

// Reasons a runtime fails a group for something the user can fix.
const (
	// ReasonImagePull: an image could not be pulled (missing, unauthorised).
	ReasonImagePull = "InaccessibleImage"
	// ReasonInvalidSpec: the runtime cannot run what was asked.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonCapacity: the host lacks the resources.
	ReasonCapacity = "ServiceUnavailable"
)

// Error is a runtime failure a user caused and can fix.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }
