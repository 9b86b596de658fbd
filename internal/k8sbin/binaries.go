package k8sbin

import "github.com/vnode-io/vnode/internal/version"

// Binary is one program built from a pinned module.
type Binary struct {
	// Name is the file name in the cache directory.
	Name string
	// Module is the directory under hack/controlplane holding its pin.
	Module string
	// Package is the Go package path of its main package.
	Package string
	// Version is the version string the binary reports.
	Version string
}

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
		return Binary{Name: name, Module: "kubernetes", Package: "k8s.io/kubernetes/cmd/" + name, Version: version.Kubernetes}
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
