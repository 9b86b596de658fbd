package k8sbin

import "github.com/vnode-io/vnode/internal/version"

// Kit is a group of binaries built from pins under hack/controlplane and
// cached together as one Set, keyed by those pins.
type Kit struct {
	// Name is the kit's directory in the cache, and names it in messages.
	Name string
	// What describes the binaries in progress messages.
	What string
	// ColdBuild is how long a build without any cache takes on 2 cores,
	// for progress messages.
	ColdBuild string
	// Modules are the pins (directories under hack/controlplane) whose
	// go.mod and go.sum are part of the cache key.
	Modules []string
	// Binaries are built in this order.
	Binaries []Binary
	// Files are copied from a module of a pin's build list into the set.
	Files []File
}

// File is a file of a module in a pin's build list, copied into a Set: for
// example a test image's data.
type File struct {
	// Name is the file name in the cache directory.
	Name string
	// Module is the directory under hack/controlplane whose build list
	// holds ModulePath.
	Module string
	// ModulePath and Path name the module and the file within it.
	ModulePath, Path string
}

// ControlPlane is the kit of the local cluster: All().
func ControlPlane() Kit {
	return Kit{Name: "controlplane", What: "the control-plane binaries", ColdBuild: "about 15 minutes",
		Modules: []string{"etcd", "kubernetes"}, Binaries: All()}
}

// Names of the conformance kit's binaries and files.
const (
	E2ETest    = "e2e.test"
	Ginkgo     = "ginkgo"
	Agnhost    = "agnhost"
	Nonewprivs = "nnp"
	// AgnhostCert and AgnhostKey are the TLS pair that agnhost's image
	// carries at /localhost.crt and /localhost.key.
	AgnhostCert = "localhost.crt"
	AgnhostKey  = "localhost.key"
)

// Versions of the test images built from k8s.io/kubernetes: the VERSION
// files of test/images/agnhost and test/images/nonewprivs at
// version.Kubernetes, which test/utils/image/manifest.go names.
const (
	AgnhostVersion    = "2.66.1"
	NonewprivsVersion = "1.4"
)

// Conformance is the kit of `make conformance`, pinned by
// hack/controlplane/conformance: Kubernetes' end-to-end test binary, the
// ginkgo runner of the release Kubernetes pins, and the programs of the
// suite's test images agnhost (with its TLS pair) and nonewprivs.
func Conformance() Kit {
	const module = "conformance"
	const kubernetes = "k8s.io/kubernetes"
	agnhostFile := func(name string) File {
		return File{Name: name, Module: module, ModulePath: kubernetes, Path: "test/images/agnhost/porter/" + name}
	}
	return Kit{Name: "conformance", What: "the conformance test binaries", ColdBuild: "20 to 60 minutes (with other builds)",
		Modules: []string{module},
		Binaries: []Binary{
			{Name: E2ETest, Module: module, Package: kubernetes + "/test/e2e", Version: version.Kubernetes, Tests: true,
				Stamp: StampKubernetes},
			{Name: Ginkgo, Module: module, Package: "github.com/onsi/ginkgo/v2/ginkgo", Version: version.Ginkgo},
			{Name: Agnhost, Module: module, Package: kubernetes + "/test/images/agnhost", Version: AgnhostVersion, Stamp: StampMain},
			{Name: Nonewprivs, Module: module, Package: kubernetes + "/test/images/nonewprivs", Version: NonewprivsVersion},
		},
		Files: []File{agnhostFile(AgnhostCert), agnhostFile(AgnhostKey)},
	}
}
