// Package version reports the version of vnode and of the Kubernetes and
// etcd releases it is built against and runs.
package version

import (
	"fmt"
	"runtime"
)

// Version is vnode's own version. Release builds set it with
// -ldflags "-X github.com/vnode-io/vnode/internal/version.Version=…".
var Version = "v0.1.0-dev"

const (
	// Kubernetes is the Kubernetes release that the local cluster runs and
	// whose client libraries vnode uses. It must match the pin in
	// hack/controlplane/kubernetes/go.mod (a unit test checks this).
	Kubernetes = "v1.37.2"

	// Etcd is the etcd release that the local cluster runs. It must match
	// the pin in hack/controlplane/etcd/go.mod.
	Etcd = "v3.6.16"

	// Ginkgo is the release of Ginkgo v2 whose runner `make conformance`
	// builds: the one that Kubernetes' go.mod requires. It must match the
	// pin in hack/controlplane/conformance/go.mod.
	Ginkgo = "v2.32.0"
)

// Info is what `vnode version` prints.
type Info struct {
	Vnode      string `json:"vnode"`
	Kubernetes string `json:"kubernetes"`
	Etcd       string `json:"etcd"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

// Get returns the versions of this build.
func Get() Info {
	return Info{
		Vnode:      Version,
		Kubernetes: Kubernetes,
		Etcd:       Etcd,
		Go:         runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String formats the versions one per line.
func (i Info) String() string {
	return fmt.Sprintf("vnode: %s\nkubernetes: %s\netcd: %s\ngo: %s\nplatform: %s\n",
		i.Vnode, i.Kubernetes, i.Etcd, i.Go, i.Platform)
}
