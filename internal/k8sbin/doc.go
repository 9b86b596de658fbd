// Package k8sbin builds the pinned control-plane binaries (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and
// kubectl) from the Go module proxy and keeps them in a cache outside the
// source tree, keyed by the pins so that a build happens only once per pin.
//
// The pins are the Go modules under hack/controlplane: one for
// k8s.io/kubernetes, one for etcd (they cannot share a module, since
// Kubernetes requires a newer etcd than the server release it runs).
package k8sbin
