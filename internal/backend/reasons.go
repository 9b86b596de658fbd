package backend

// Reasons of container states (ContainerState.Reason) and of workloads
// (PodState.Reason), with the kubelet's words: they reach the pod's status
// as they are, and users and tools match on them. The container instances
// service's runtimes report the same words as ACI's detailStatus, which the
// ACI backend maps back.
const (
	// ReasonContainerCreating: a container waits for its workload to be
	// deployed.
	ReasonContainerCreating = "ContainerCreating"
	// ReasonPodInitializing: an init container waits for its turn, or a
	// container for the init containers to finish.
	ReasonPodInitializing = "PodInitializing"
	// ReasonErrImagePull: a container waits after its image failed to pull.
	ReasonErrImagePull = "ErrImagePull"
	// ReasonImagePullBackOff: a container waits for the backend to pull its
	// image again after a failure.
	ReasonImagePullBackOff = "ImagePullBackOff"
	// ReasonCrashLoopBackOff: a container that exited waits for the backend
	// to restart it.
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	// ReasonCreateContainerConfigError: a container waits for what the pod
	// references (a Secret, a key, a ConfigMap) to be fixed.
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	// ReasonCompleted: a container exited with code 0.
	ReasonCompleted = "Completed"
	// ReasonError: a container exited with another code.
	ReasonError = "Error"
	// ReasonOOMKilled: a container was killed for running out of memory.
	ReasonOOMKilled = "OOMKilled"
	// ReasonProviderFailed: the backend could not run the workload at all
	// (PodState.Failed); it becomes the pod's reason, as in other virtual
	// kubelets.
	ReasonProviderFailed = "ProviderFailed"
)

// Reasons of events (Event.Reason) that backends and the service's
// runtimes report about containers, with the kubelet's words.
const (
	// EventPulling: an image pull began.
	EventPulling = "Pulling"
	// EventPulled: an image was pulled, or was present already.
	EventPulled = "Pulled"
	// EventCreated: a container was created.
	EventCreated = "Created"
	// EventStarted: a container started.
	EventStarted = "Started"
	// EventKilling: a container is being stopped.
	EventKilling = "Killing"
	// EventUnhealthy: a liveness or readiness probe failed (Warning).
	EventUnhealthy = "Unhealthy"
	// EventBackOff: a restart or a pull waits out its back-off (Warning).
	EventBackOff = "BackOff"
	// EventFailed: a pull, a start or a container's configuration failed
	// (Warning).
	EventFailed = "Failed"
	// EventFailedPostStartHook: a container's postStart hook failed and the
	// container is killed (Warning).
	EventFailedPostStartHook = "FailedPostStartHook"
	// EventFailedPreStopHook: a container's preStop hook failed; the
	// container is stopped all the same (Warning).
	EventFailedPreStopHook = "FailedPreStopHook"
	// EventLifecycleHTTPFallback: an HTTPS hook got an HTTP answer and was
	// sent again over HTTP, which succeeded (Warning).
	EventLifecycleHTTPFallback = "LifecycleHTTPFallback"
)
