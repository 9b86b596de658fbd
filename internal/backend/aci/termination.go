package aci

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/wire"
)

// setTerminationMessages tells the service where each (init) container of
// the pod writes its termination message and how it is read, when the
// service mounts termination message files (on): the kubelet mounts one
// for every container, at the default path unless the pod names another.
// Fields the pod leaves empty take Kubernetes' defaults, as the API server
// would have set them. Without the extension (Azure) containers have no
// such file and their messages stay empty.
func (s *groupSpec) setTerminationMessages(pod *corev1.Pod, on bool) {
	if !on {
		return
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		t := wire.TerminationMessage{Path: c.TerminationMessagePath, Policy: string(c.TerminationMessagePolicy)}
		if t.Path == "" {
			t.Path = wire.DefaultTerminationMessagePath
		}
		if t.Policy == "" {
			t.Policy = wire.TerminationMessageFile
		}
		if s.ext.TerminationMessages == nil {
			s.ext.TerminationMessages = map[string]wire.TerminationMessage{}
		}
		s.ext.TerminationMessages[c.Name] = t
	}
}
