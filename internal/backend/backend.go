// Package backend defines the contract between the node agent and the
// service that runs pods' workloads: the in-memory backend for tests and
// benchmarks, and the ACI backend for the container instances service and
// Azure.
package backend

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Backend runs the workloads of the pods bound to one node.
//
// The backend runs containers; the agent (internal/pods) runs pods:
//
//   - The backend pulls images, with the workload's RegistryCredentials,
//     and backs off from pulls that fail (ReasonErrImagePull, then
//     ReasonImagePullBackOff).
//   - The backend starts, probes, restarts and stops containers: it applies
//     the pod's restart policy and the back-off between restarts
//     (ReasonCrashLoopBackOff), runs liveness and readiness probes and
//     reports readiness (ContainerState.Ready), gives the pod its IP, and
//     stops containers with SIGTERM, then SIGKILL once Delete's grace has
//     passed.
//   - The backend pushes every change of its workloads' states through
//     Subscribe, with the events of what it did (EventPulling, EventCreated,
//     EventBackOff, …), and reports a pod it can never run as
//     ErrUnsatisfiable, a reference it finds wanting as a *ConfigError.
//   - The agent never restarts a container or pulls an image: it reports
//     what the backend pushes. From the pushed states it computes and
//     writes the pod's status (phase, conditions, container statuses) and
//     records the events on the pod.
//   - The agent resolves, from the API, what the backend gets in the
//     Workload (environment, volume files and their refreshes through
//     VolumeUpdater, registry credentials, the Secrets of network-share
//     volumes), and reports what it cannot resolve as the pod's
//     configuration error (ReasonCreateContainerConfigError).
//   - The agent decides what runs: it creates and updates workloads for the
//     pods bound to the node, refuses those no virtual node runs, retries
//     ErrRetryable errors with back-off, passes a pod's deletion on with its
//     grace period, stops the containers of a pod past its
//     activeDeadlineSeconds (Stopper), deletes the pod from the API once
//     every container has terminated, adopts the backend's workloads after a
//     restart and deletes those whose pod is gone (List).
//
// Implementations must be safe for concurrent use. Calls are idempotent:
// creating a workload that exists with the same pod UID, or deleting one
// that is gone, succeeds. Errors that the agent should retry wrap
// ErrRetryable (or are context errors); any other error is final for that
// request and is reported on the pod.
type Backend interface {
	// Create starts the workload of a pod.
	Create(ctx context.Context, w *Workload) error
	// Update applies changes that can be made in place (container images,
	// resolved environment and volume contents). It returns an error
	// wrapping ErrNotSupported for changes that need a new workload.
	Update(ctx context.Context, w *Workload) error
	// Delete stops the workload of the pod with uid: SIGTERM, then SIGKILL
	// once grace has passed. It returns when the stop has begun; the end
	// is reported as a status with every container terminated, and the
	// workload disappears from List.
	Delete(ctx context.Context, uid types.UID, grace time.Duration) error
	// List returns the state of every workload the backend runs for this
	// node, for adoption after a restart and for cleanup of orphans.
	List(ctx context.Context) ([]*PodState, error)
	// Subscribe delivers every state change to fn, in order per pod, until
	// ctx ends. fn must not block for long.
	Subscribe(ctx context.Context, fn func(*PodState))
	// Capacity returns the node's capacity.
	Capacity(ctx context.Context) (corev1.ResourceList, error)
	// Health returns nil while the backend can run workloads.
	Health(ctx context.Context) error
}

// VolumeUpdater is implemented by backends that can replace the files of a
// running workload's ConfigMap, Secret, projected and downward-API volumes
// in place, without restarting its containers, as the kubelet updates
// them. UpdateVolumes reads w.Pod and w.Volumes only; it returns an error
// wrapping ErrNotSupported when the backend cannot, ErrNotFound when it
// has no workload for the pod.
type VolumeUpdater interface {
	UpdateVolumes(ctx context.Context, w *Workload) error
}

// Stopper is implemented by backends that can stop a workload's containers
// and keep the workload, as the kubelet kills the containers of a pod past
// its activeDeadlineSeconds and keeps them, their last states and their
// logs until the pod is deleted.
//
// Stop stops every container of the workload of the pod with uid: SIGTERM,
// then SIGKILL once grace has passed. It returns when the stop has begun;
// the end is reported as a pushed state with every container terminated.
// A stopped workload is never restarted or deployed again; it stays in
// List, its logs stay readable, and Delete removes it. Stopping a stopped
// workload succeeds; a workload the backend does not have is ErrNotFound.
type Stopper interface {
	Stop(ctx context.Context, uid types.UID, grace time.Duration) error
}

var (
	// ErrRetryable marks a transient failure (throttling, unavailability).
	ErrRetryable = errors.New("retryable backend error")
	// ErrNotSupported marks a request the backend cannot carry out.
	ErrNotSupported = errors.New("not supported by the backend")
	// ErrNotFound marks a workload the backend does not have.
	ErrNotFound = errors.New("workload not found")
	// ErrUnsatisfiable marks a pod the backend can never run as specified
	// (a feature it lacks, more resources than it offers): the pod fails at
	// once, whatever its restart policy, as the kubelet rejects a pod at
	// admission.
	ErrUnsatisfiable = errors.New("the backend cannot run this pod")
)

// ConfigError is an error in what a pod references that its user must fix
// (a Secret that lacks a key the backend needs), as opposed to a failure of
// the backend. Create and Update return it, possibly wrapped. The agent
// reports it from Create as it reports the references it cannot resolve
// itself: the pod's containers wait with ReasonCreateContainerConfigError
// and Message, a Warning event says why, and the agent tries again when the
// reference changes and with back-off. Message must not hold confidential
// data.
type ConfigError struct {
	Message string
}

// Error returns the message.
func (e *ConfigError) Error() string { return e.Message }

// Workload is what a backend needs to run one pod: the pod itself and
// everything the agent resolved from the API for it.
type Workload struct {
	// Pod is a copy the backend may keep; it must not modify it.
	Pod *corev1.Pod
	// Env holds each container's environment, resolved as the kubelet
	// does (envFrom, env, references, $(VAR) expansion), by container name,
	// for init containers and containers alike.
	Env map[string][]EnvVar
	// Volumes holds the files of ConfigMap, Secret, projected and
	// downward-API volumes, by volume name.
	Volumes map[string][]File
	// RegistryCredentials are the pod's image pull secrets
	// (kubernetes.io/dockerconfigjson), one entry per registry server.
	RegistryCredentials []RegistryCredential
	// VolumeSecrets holds, by volume name, the data of the Secret that a
	// network-share volume names for its credentials (CredentialSecret):
	// the backend reads the keys its service needs from it, and reports a
	// Secret that lacks one as a *ConfigError. The data is confidential:
	// backends must never log or return it, and must not modify it.
	VolumeSecrets map[string]map[string][]byte
}

// RegistryCredential is what a backend needs to pull from one registry.
// Password is confidential: backends must never log or return it.
type RegistryCredential struct {
	Server   string
	Username string
	Password string
}

// EnvVar is one resolved environment variable.
type EnvVar struct {
	Name  string
	Value string
	// Secret marks a value that came from a Secret: backends must treat it
	// as confidential (ACI's secureValue), never log or return it.
	Secret bool
	// FieldPath is status.podIP or status.podIPs for a variable whose value
	// is the pod's IP: Value holds it when it is already known, and a
	// backend that allocates the IP fills it in before containers start.
	FieldPath string
}

// FileVolume reports whether the agent resolves v to files for the backend
// (Workload.Volumes): ConfigMap, Secret, downward-API and projected volumes.
func FileVolume(v corev1.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// CredentialSecret returns the name of the Secret that v, a network-share
// volume, names for its credentials, and v's type: azureFile's secretName.
// ok is false for other volumes. The agent resolves that Secret's data into
// Workload.VolumeSecrets; a Secret that does not exist is the pod's
// configuration error.
func CredentialSecret(v corev1.Volume) (secret, volumeType string, ok bool) {
	if v.AzureFile != nil {
		return v.AzureFile.SecretName, "azureFile", true
	}
	return "", "", false
}

// File is one file of a volume.
type File struct {
	Path string
	Data []byte
	// Mode is the file's permission bits: the item's mode, else the
	// volume's defaultMode, else 0644, as Kubernetes has them.
	Mode int32
	// Secret marks content from a Secret.
	Secret bool
}

// PodState is what a backend reports about one workload.
type PodState struct {
	UID       types.UID
	Namespace string
	Name      string
	// IP is the workload's address once it has one.
	IP string
	// StartTime is when the backend accepted the workload.
	StartTime time.Time
	// Failed with a Reason and Message marks a workload the backend could
	// not run at all (as opposed to containers that exited).
	Failed  bool
	Reason  string
	Message string
	// InitContainers and Containers are in the pod's order.
	InitContainers []ContainerState
	Containers     []ContainerState
	// Events are what happened since the previous report, to be recorded
	// on the pod.
	Events []Event
}

// AllTerminated reports whether no container of the workload runs any
// more and none will start again.
func (s *PodState) AllTerminated() bool {
	for _, c := range s.InitContainers {
		if c.State == Running {
			return false
		}
	}
	for _, c := range s.Containers {
		if c.State != Terminated {
			return false
		}
	}
	return true
}

// State is a container's state.
type State string

// Container states.
const (
	Waiting    State = "Waiting"
	Running    State = "Running"
	Terminated State = "Terminated"
)

// ContainerState is one container's state.
type ContainerState struct {
	Name  string
	State State
	// Reason and Message explain Waiting and Terminated states, with the
	// kubelet's reasons (ReasonContainerCreating, ReasonErrImagePull,
	// ReasonCrashLoopBackOff, ReasonCompleted, …); a Terminated state's
	// Message carries the container's termination message, as the
	// kubelet's does.
	Reason     string
	Message    string
	ExitCode   int32
	StartedAt  time.Time
	FinishedAt time.Time
	// Last is the previous termination, after a restart.
	Last         *ContainerState
	RestartCount int32
	Ready        bool
	Image        string
	ImageID      string
	ContainerID  string
	// StartupPending marks a running container whose startup probe has not
	// succeeded yet: it has not started (containerStatuses[].started).
	StartupPending bool
}

// Event is something that happened to a workload.
type Event struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
	// Container names the container concerned, if any.
	Container string
	Time      time.Time
}

// DefaultCapacity is the capacity AKS gives its virtual node.
func DefaultCapacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("10000"),
		corev1.ResourceMemory:           resource.MustParse("4Ti"),
		corev1.ResourcePods:             resource.MustParse("5000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("4Ti"),
	}
}
