package backend

import "testing"

// The reasons reach pods' status and events as they are, and the service's
// runtimes report them over the wire: their values are the kubelet's words
// and must not change.
func TestReasonsAreTheKubeletsWords(t *testing.T) {
	for got, want := range map[string]string{
		ReasonContainerCreating:          "ContainerCreating",
		ReasonPodInitializing:            "PodInitializing",
		ReasonErrImagePull:               "ErrImagePull",
		ReasonImagePullBackOff:           "ImagePullBackOff",
		ReasonCrashLoopBackOff:           "CrashLoopBackOff",
		ReasonCreateContainerConfigError: "CreateContainerConfigError",
		ReasonCompleted:                  "Completed",
		ReasonError:                      "Error",
		ReasonOOMKilled:                  "OOMKilled",
		ReasonProviderFailed:             "ProviderFailed",
		EventPulling:                     "Pulling",
		EventPulled:                      "Pulled",
		EventCreated:                     "Created",
		EventStarted:                     "Started",
		EventKilling:                     "Killing",
		EventUnhealthy:                   "Unhealthy",
		EventBackOff:                     "BackOff",
		EventFailed:                      "Failed",
		EventFailedPostStartHook:         "FailedPostStartHook",
		EventFailedPreStopHook:           "FailedPreStopHook",
		EventLifecycleHTTPFallback:       "LifecycleHTTPFallback",
	} {
		if got != want {
			t.Errorf("reason %q, want %q", got, want)
		}
	}
}
