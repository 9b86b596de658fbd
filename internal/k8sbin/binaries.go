package k8sbin

import "github.com/vnode-io/vnode/internal/version"

// Binary is one program built from a pinned module.
type Binary struct {
	// Name is the file name in the cache directory.
	Name string
	// Module is the directory under hack/controlplane holding its pin.
	Module string
	// Package is the Go package path of its main package, or of the
	// package whose test binary it is (Tests).
	Package string
	// Version is the version string the binary reports.
	Version string
	// Tests builds the package's test binary (go test -c) instead of a
	// main package.
	Tests bool
	// Stamp says which version variables the build sets to Version.
	Stamp Stamp
}

// Stamp names the variables a build sets to a binary's version.
type Stamp int

// The ways of stamping a version into a binary.
const (
	// StampNone leaves the binary's version variables alone.
	StampNone Stamp = iota
	// StampKubernetes sets the version of k8s.io/component-base and
	// k8s.io/client-go, which Kubernetes binaries otherwise report as
	// v0.0.0-master.
	StampKubernetes
	// StampMain sets main.Version, as Kubernetes' test images do.
	StampMain
)

// Names of the binaries, for callers that look them up in a Set.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	KubeProxy             = "kube-proxy"
	Kubectl               = "kubectl"
)

// All lists every binary the local cluster uses, in build order.
func All() []Binary {
	k8s := func(name string) Binary {
		return Binary{Name: name, Module: "kubernetes", Package: "k8s.io/kubernetes/cmd/" + name, Version: version.Kubernetes,
			Stamp: StampKubernetes}
	}
	return []Binary{
		{Name: Etcd, Module: "etcd", Package: "go.etcd.io/etcd/server/v3", Version: version.Etcd},
		k8s(KubeAPIServer),
		k8s(KubeControllerManager),
		k8s(KubeScheduler),
		k8s(KubeProxy),
		k8s(Kubectl),
	}
}
