package pods

import (
	corev1 "k8s.io/api/core/v1"
)

// Pod returns the pod namespace/name bound to the node from the informer's
// cache, never from the API server; false when the cache has no such pod
// (or has not synced yet). The pod is shared: callers must not modify it.
func (c *Controller) Pod(namespace, name string) (*corev1.Pod, bool) {
	pod, err := c.pods.Pods(namespace).Get(name)
	if err != nil {
		return nil, false
	}
	return pod, true
}

// Pods returns the pods bound to the node from the informer's cache. The
// pods are shared: callers must not modify them.
func (c *Controller) Pods() []*corev1.Pod {
	pods, err := c.pods.List(everything())
	if err != nil {
		return nil
	}
	return pods
}
