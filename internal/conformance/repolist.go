package conformance

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// RegistryList is the suite's registry remapping: the fields of
// RegistryList in k8s.io/kubernetes/test/utils/image/manifest.go, read from
// the file that --kube-test-repo-list names.
type RegistryList struct {
	PromoterE2eRegistry      string `json:"promoterE2eRegistry"`
	BuildImageRegistry       string `json:"buildImageRegistry"`
	InvalidRegistry          string `json:"invalidRegistry"`
	GcEtcdRegistry           string `json:"gcEtcdRegistry"`
	GcRegistry               string `json:"gcRegistry"`
	SigStorageRegistry       string `json:"sigStorageRegistry"`
	PrivateRegistry          string `json:"privateRegistry"`
	DockerLibraryRegistry    string `json:"dockerLibraryRegistry"`
	CloudProviderGcpRegistry string `json:"cloudProviderGcpRegistry"`
}

// UpstreamRegistries are the suite's registries when no list is given.
func UpstreamRegistries() RegistryList {
	return RegistryList{
		PromoterE2eRegistry:      "registry.k8s.io/e2e-test-images",
		BuildImageRegistry:       "registry.k8s.io/build-image",
		InvalidRegistry:          "invalid.registry.k8s.io/invalid",
		GcEtcdRegistry:           "registry.k8s.io",
		GcRegistry:               "registry.k8s.io",
		SigStorageRegistry:       "registry.k8s.io/sig-storage",
		PrivateRegistry:          "gcr.io/k8s-authenticated-test",
		DockerLibraryRegistry:    "docker.io/library",
		CloudProviderGcpRegistry: "registry.k8s.io/cloud-provider-gcp",
	}
}

// RepoList maps every upstream registry to a repository path of the same
// name under the registry host (for example registry.k8s.io/e2e-test-images
// → HOST/registry.k8s.io/e2e-test-images), so that the images of one
// registry keep their names and those of different registries cannot
// collide. The invalid registry stays invalid: nothing is pushed under its
// name, so pulls from it fail at once with "not found".
func RepoList(host string) RegistryList {
	up := UpstreamRegistries()
	local := func(upstream string) string { return host + "/" + upstream }
	return RegistryList{
		PromoterE2eRegistry:      local(up.PromoterE2eRegistry),
		BuildImageRegistry:       local(up.BuildImageRegistry),
		InvalidRegistry:          local(up.InvalidRegistry),
		GcEtcdRegistry:           local(up.GcEtcdRegistry),
		GcRegistry:               local(up.GcRegistry),
		SigStorageRegistry:       local(up.SigStorageRegistry),
		PrivateRegistry:          local(up.PrivateRegistry),
		DockerLibraryRegistry:    local(up.DockerLibraryRegistry),
		CloudProviderGcpRegistry: local(up.CloudProviderGcpRegistry),
	}
}

// WriteRepoList writes the list as the YAML file --kube-test-repo-list
// reads.
func WriteRepoList(path string, list RegistryList) error {
	data, err := yaml.Marshal(list)
	if err != nil {
		return fmt.Errorf("encode the repo list: %w", err)
	}
	header := "# The e2e suite's registries (--kube-test-repo-list), written by vnode's `make conformance`.\n"
	if err := os.WriteFile(path, append([]byte(header), data...), 0o644); err != nil {
		return fmt.Errorf("write the repo list: %w", err)
	}
	return nil
}
