package validate

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/armerr"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

var (
	testLoc = config.DefaultLocationSpec("westeurope") // 4 CPU, 16 GB, no GPU
	testLim = config.Default().Limits                  // 60 containers, 20 volumes, 5 ports, min 1 CPU / 1 GB
)

func reqs(cpu, mem float64) *aci.ResourceRequirements {
	return &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(cpu), MemoryInGB: to.Ptr(mem)}}
}

// minimal is the smallest valid group.
func minimal() *aci.ContainerGroup {
	return &aci.ContainerGroup{
		Location: to.Ptr("westeurope"),
		Properties: &aci.ContainerGroupPropertiesProperties{
			OSType: to.Ptr(aci.OperatingSystemTypesLinux),
			Containers: []*aci.Container{{
				Name:       to.Ptr("web"),
				Properties: &aci.ContainerProperties{Image: to.Ptr("nginx"), Resources: reqs(1, 1)},
			}},
		},
	}
}

// maximal is a valid group using every feature the validator checks, with
// some enum values in unusual case. Totals: 2 CPU, 4 GB.
func maximal() *aci.ContainerGroup {
	web := &aci.Container{
		Name: to.Ptr("web"),
		Properties: &aci.ContainerProperties{
			Image:   to.Ptr("nginx:1.27"),
			Command: []*string{to.Ptr("nginx"), to.Ptr("-g"), to.Ptr("daemon off;")},
			Ports: []*aci.ContainerPort{
				{Port: to.Ptr[int32](80), Protocol: to.Ptr(aci.ContainerNetworkProtocolTCP)},
				{Port: to.Ptr[int32](443), Protocol: to.Ptr(aci.ContainerNetworkProtocol("tcp"))},
			},
			EnvironmentVariables: []*aci.EnvironmentVariable{
				{Name: to.Ptr("MODE"), Value: to.Ptr("production")},
				{Name: to.Ptr("_TOKEN"), SecureValue: to.Ptr("s3cret")},
			},
			Resources: &aci.ResourceRequirements{
				Requests: &aci.ResourceRequests{CPU: to.Ptr(1.5), MemoryInGB: to.Ptr(2.5)},
				Limits:   &aci.ResourceLimits{CPU: to.Ptr(2.0), MemoryInGB: to.Ptr(3.0)},
			},
			VolumeMounts: []*aci.VolumeMount{
				{Name: to.Ptr("config"), MountPath: to.Ptr("/etc/nginx/conf.d"), ReadOnly: to.Ptr(true)},
				{Name: to.Ptr("cache"), MountPath: to.Ptr("/var/cache/nginx")},
			},
			LivenessProbe: &aci.ContainerProbe{
				HTTPGet:             &aci.ContainerHTTPGet{Port: to.Ptr[int32](80), Path: to.Ptr("/healthz"), Scheme: to.Ptr(aci.Scheme("HTTP"))},
				InitialDelaySeconds: to.Ptr[int32](5), PeriodSeconds: to.Ptr[int32](10), FailureThreshold: to.Ptr[int32](3),
				SuccessThreshold: to.Ptr[int32](1), TimeoutSeconds: to.Ptr[int32](0),
			},
			ReadinessProbe: &aci.ContainerProbe{
				Exec:          &aci.ContainerExec{Command: []*string{to.Ptr("cat"), to.Ptr("/tmp/ready")}},
				PeriodSeconds: to.Ptr[int32](5),
			},
		},
	}
	sidecar := &aci.Container{
		Name: to.Ptr("dns--sidecar"), // ACI allows "--" in container names
		Properties: &aci.ContainerProperties{
			Image:     to.Ptr("myregistry.azurecr.io/dns:2"),
			Ports:     []*aci.ContainerPort{{Port: to.Ptr[int32](53), Protocol: to.Ptr(aci.ContainerNetworkProtocolUDP)}},
			Resources: reqs(0.5, 1.5),
			VolumeMounts: []*aci.VolumeMount{
				{Name: to.Ptr("cache"), MountPath: to.Ptr("/cache")},
				{Name: to.Ptr("share"), MountPath: to.Ptr("/mnt/share")},
				{Name: to.Ptr("source"), MountPath: to.Ptr("/src")},
			},
		},
	}
	return &aci.ContainerGroup{
		Location: to.Ptr("West Europe"),
		Tags:     map[string]*string{"team": to.Ptr("a")},
		Properties: &aci.ContainerGroupPropertiesProperties{
			OSType:        to.Ptr(aci.OperatingSystemTypes("linux")),
			RestartPolicy: to.Ptr(aci.ContainerGroupRestartPolicy("onfailure")),
			Containers:    []*aci.Container{web, sidecar},
			InitContainers: []*aci.InitContainerDefinition{{
				Name: to.Ptr("init-config"),
				Properties: &aci.InitContainerPropertiesDefinition{
					Image:                to.Ptr("busybox"),
					Command:              []*string{to.Ptr("sh"), to.Ptr("-c"), to.Ptr("true")},
					EnvironmentVariables: []*aci.EnvironmentVariable{{Name: to.Ptr("MODE"), Value: to.Ptr("init")}},
					VolumeMounts:         []*aci.VolumeMount{{Name: to.Ptr("config"), MountPath: to.Ptr("/cfg")}},
				},
			}},
			Volumes: []*aci.Volume{
				{Name: to.Ptr("config"), Secret: map[string]*string{"nginx.conf": to.Ptr("c2VydmVyIHt9Cg=="), "empty": to.Ptr("")}},
				{Name: to.Ptr("cache"), EmptyDir: map[string]any{}},
				{Name: to.Ptr("share"), AzureFile: &aci.AzureFileVolume{ShareName: to.Ptr("data"), StorageAccountName: to.Ptr("acct"), StorageAccountKey: to.Ptr("k")}},
				{Name: to.Ptr("source"), GitRepo: &aci.GitRepoVolume{Repository: to.Ptr("https://example.com/r.git"), Directory: to.Ptr("app/src")}},
			},
			IPAddress: &aci.IPAddress{
				Type: to.Ptr(aci.ContainerGroupIPAddressType("public")),
				Ports: []*aci.Port{
					{Port: to.Ptr[int32](80), Protocol: to.Ptr(aci.ContainerGroupNetworkProtocolTCP)},
					{Port: to.Ptr[int32](443)},
					{Port: to.Ptr[int32](53), Protocol: to.Ptr(aci.ContainerGroupNetworkProtocol("udp"))},
				},
				DNSNameLabel: to.Ptr("my-app-1"),
			},
			ImageRegistryCredentials: []*aci.ImageRegistryCredential{
				{Server: to.Ptr("myregistry.azurecr.io"), Username: to.Ptr("user"), Password: to.Ptr("pw")},
				{Server: to.Ptr("other.azurecr.io"), Identity: to.Ptr("/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id")},
			},
		},
	}
}

// Shorthands for the tests' mutations of maximal.
func props(g *aci.ContainerGroup) *aci.ContainerGroupPropertiesProperties { return g.Properties }
func ctr(g *aci.ContainerGroup, i int) *aci.ContainerProperties {
	return g.Properties.Containers[i].Properties
}
func res(g *aci.ContainerGroup, i int) *aci.ResourceRequirements { return ctr(g, i).Resources }
func initc(g *aci.ContainerGroup) *aci.InitContainerPropertiesDefinition {
	return g.Properties.InitContainers[0].Properties
}

const (
	c0 = "properties.containers[0]"
	c1 = "properties.containers[1]"
)

type ruleCase struct {
	name   string
	base   func() *aci.ContainerGroup // maximal when nil
	mutate func(g *aci.ContainerGroup)
	loc    *config.Location // testLoc when nil
	code   string
	target string
	msgHas string // optional text the message must contain
}

func ruleCases() []ruleCase {
	ports := func(n int) []*aci.Port {
		var p []*aci.Port
		for i := range n {
			p = append(p, &aci.Port{Port: to.Ptr(int32(8000 + i))})
		}
		return p
	}
	gpuLoc := config.DefaultLocationSpec("gpu")
	gpuLoc.Capabilities.MaxGPUCount = 1
	return []ruleCase{
		// group
		{name: "location missing", mutate: func(g *aci.ContainerGroup) { g.Location = nil }, code: CodeLocationRequired, target: "location"},
		{name: "location blank", mutate: func(g *aci.ContainerGroup) { g.Location = to.Ptr("  ") }, code: CodeLocationRequired, target: "location"},
		{name: "properties missing", mutate: func(g *aci.ContainerGroup) { g.Properties = nil }, code: CodeMissingContainerGroupProperties, target: "properties"},
		{name: "osType missing", mutate: func(g *aci.ContainerGroup) { props(g).OSType = nil }, code: CodeMissingOsType, target: "properties.osType"},
		{name: "osType Windows", mutate: func(g *aci.ContainerGroup) { props(g).OSType = to.Ptr(aci.OperatingSystemTypesWindows) }, code: CodeOsVersionNotSupported, target: "properties.osType", msgHas: "Linux"},
		{name: "osType WINDOWS", mutate: func(g *aci.ContainerGroup) { props(g).OSType = to.Ptr(aci.OperatingSystemTypes("WINDOWS")) }, code: CodeOsVersionNotSupported, target: "properties.osType"},
		{name: "osType unknown", mutate: func(g *aci.ContainerGroup) { props(g).OSType = to.Ptr(aci.OperatingSystemTypes("Plan9")) }, code: CodeInvalidOsType, target: "properties.osType"},
		{name: "restartPolicy unknown", mutate: func(g *aci.ContainerGroup) {
			props(g).RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicy("Sometimes"))
		}, code: CodeInvalidRestartPolicy, target: "properties.restartPolicy"},
		// containers
		{name: "no containers", mutate: func(g *aci.ContainerGroup) { props(g).Containers = nil }, code: CodeMissingContainers, target: "properties.containers"},
		{name: "too many containers", base: minimal, mutate: func(g *aci.ContainerGroup) {
			for i := range 60 {
				props(g).Containers = append(props(g).Containers, &aci.Container{Name: to.Ptr(fmt.Sprintf("c%d", i)),
					Properties: &aci.ContainerProperties{Image: to.Ptr("x"), Resources: reqs(0.01, 0.1)}})
			}
		}, code: CodeTooManyContainers, target: "properties.containers"},
		{name: "container name uppercase", mutate: func(g *aci.ContainerGroup) { props(g).Containers[1].Name = to.Ptr("Sidecar") },
			code: CodeInvalidContainerName, target: c1 + ".name", msgHas: "Sidecar"},
		{name: "container name missing", mutate: func(g *aci.ContainerGroup) { props(g).Containers[1].Name = nil }, code: CodeInvalidContainerName, target: c1 + ".name"},
		{name: "container name leading hyphen", mutate: func(g *aci.ContainerGroup) { props(g).Containers[0].Name = to.Ptr("-web") }, code: CodeInvalidContainerName, target: c0 + ".name"},
		{name: "container name too long", mutate: func(g *aci.ContainerGroup) { props(g).Containers[0].Name = to.Ptr(strings.Repeat("a", 64)) }, code: CodeInvalidContainerName, target: c0 + ".name"},
		{name: "container null", mutate: func(g *aci.ContainerGroup) { props(g).Containers[1] = nil }, code: CodeInvalidContainerName, target: c1 + ".name"},
		{name: "container names repeated", mutate: func(g *aci.ContainerGroup) { props(g).Containers[1].Name = to.Ptr("web") }, code: CodeDuplicateContainerName, target: c1 + ".name"},
		{name: "init container shares a container name", mutate: func(g *aci.ContainerGroup) { props(g).InitContainers[0].Name = to.Ptr("web") },
			code: CodeDuplicateContainerName, target: "properties.initContainers[0].name"},
		{name: "image missing", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).Image = nil }, code: CodeMissingContainerImage, target: c0 + ".properties.image", msgHas: "'web'"},
		{name: "container properties missing", mutate: func(g *aci.ContainerGroup) { props(g).Containers[1].Properties = nil }, code: CodeMissingContainerImage, target: c1 + ".properties.image"},
		// resources
		{name: "resources missing", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).Resources = nil }, code: CodeMissingContainerResourceRequests, target: c1 + ".properties.resources.requests"},
		{name: "cpu missing", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.CPU = nil }, code: CodeMissingContainerResourceRequests, target: c1 + ".properties.resources.requests.cpu"},
		{name: "memory missing", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.MemoryInGB = nil }, code: CodeMissingContainerResourceRequests, target: c1 + ".properties.resources.requests.memoryInGB"},
		{name: "cpu zero", mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(0.0) }, code: CodeInvalidContainerResourceRequests, target: c0 + ".properties.resources.requests.cpu"},
		{name: "cpu negative", mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(-1.0) }, code: CodeInvalidContainerResourceRequests, target: c0 + ".properties.resources.requests.cpu"},
		{name: "cpu not a multiple of 0.01", mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(1.505) },
			code: CodeInvalidContainerResourceRequests, target: c0 + ".properties.resources.requests.cpu", msgHas: "0.01"},
		{name: "memory not a multiple of 0.1", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.MemoryInGB = to.Ptr(1.55) },
			code: CodeInvalidContainerResourceRequests, target: c1 + ".properties.resources.requests.memoryInGB"},
		{name: "cpu limit zero", mutate: func(g *aci.ContainerGroup) { res(g, 0).Limits.CPU = to.Ptr(0.0) }, code: CodeInvalidContainerResourceLimits, target: c0 + ".properties.resources.limits.cpu"},
		{name: "memory limit not a multiple", mutate: func(g *aci.ContainerGroup) { res(g, 0).Limits.MemoryInGB = to.Ptr(2.05) },
			code: CodeInvalidContainerResourceLimits, target: c0 + ".properties.resources.limits.memoryInGB"},
		{name: "cpu limit above group request", mutate: func(g *aci.ContainerGroup) { res(g, 0).Limits.CPU = to.Ptr(2.5) },
			code: CodeContainerLimitGreaterThanContainerGroupTotalRequest, target: c0 + ".properties.resources.limits.cpu", msgHas: "'2.5' in container 'web'"},
		{name: "memory limit above group request", mutate: func(g *aci.ContainerGroup) { res(g, 0).Limits.MemoryInGB = to.Ptr(4.1) },
			code: CodeContainerLimitGreaterThanContainerGroupTotalRequest, target: c0 + ".properties.resources.limits.memoryInGB"},
		{name: "gpu count zero", mutate: func(g *aci.ContainerGroup) {
			res(g, 1).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](0), SKU: to.Ptr(aci.GpuSKUK80)}
		}, code: CodeInvalidGpuResource, target: c1 + ".properties.resources.requests.gpu.count"},
		{name: "gpu sku unknown", mutate: func(g *aci.ContainerGroup) {
			res(g, 1).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](1), SKU: to.Ptr(aci.GpuSKU("T4"))}
		}, code: CodeInvalidGpuResource, target: c1 + ".properties.resources.requests.gpu.sku"},
		{name: "gpu in a location without gpus", mutate: func(g *aci.ContainerGroup) {
			res(g, 1).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](1), SKU: to.Ptr(aci.GpuSKUV100)}
		}, code: CodeContainerGroupResourceRequestExceedsCapabilities, target: c1 + ".properties.resources.requests.gpu"},
		{name: "more gpus than the location allows", loc: &gpuLoc, mutate: func(g *aci.ContainerGroup) {
			res(g, 1).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](2), SKU: to.Ptr(aci.GpuSKUV100)}
		}, code: CodeContainerGroupResourceRequestExceedsCapabilities, target: c1 + ".properties.resources.requests.gpu"},
		{name: "group cpu below minimum", base: minimal, mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(0.5) },
			code: CodeContainerGroupResourceRequestBelowMinimum, target: "properties.containers"},
		{name: "group memory below minimum", base: minimal, mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.MemoryInGB = to.Ptr(0.5) },
			code: CodeContainerGroupResourceRequestBelowMinimum, target: "properties.containers"},
		{name: "group cpu above capability", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.CPU = to.Ptr(3.0) },
			code: CodeContainerGroupResourceRequestExceedsCapabilities, target: "properties.containers", msgHas: "4.5 CPU"},
		{name: "group memory above capability", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.MemoryInGB = to.Ptr(14.0) },
			code: CodeContainerGroupResourceRequestExceedsCapabilities, target: "properties.containers", msgHas: "16"},
		// volumes
		{name: "too many volumes", mutate: func(g *aci.ContainerGroup) {
			for i := range 17 {
				props(g).Volumes = append(props(g).Volumes, &aci.Volume{Name: to.Ptr(fmt.Sprintf("extra%d", i)), EmptyDir: map[string]any{}})
			}
		}, code: CodeTooManyVolumes, target: "properties.volumes"},
		{name: "volume name too short", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[1].Name = to.Ptr("tmp") },
			code: CodeInvalidVolumeName, target: "properties.volumes[1].name"},
		{name: "volume name uppercase", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[1].Name = to.Ptr("Cache") },
			code: CodeInvalidVolumeName, target: "properties.volumes[1].name"},
		{name: "volume null", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3] = nil }, code: CodeInvalidVolumeName, target: "properties.volumes[3].name"},
		{name: "volume names repeated", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[1].Name = to.Ptr("config") },
			code: CodeDuplicateVolumeName, target: "properties.volumes[1].name"},
		{name: "volume without source", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[1].EmptyDir = nil },
			code: CodeInvalidVolumeSource, target: "properties.volumes[1]", msgHas: "'cache'"},
		{name: "volume with two sources", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[1].Secret = map[string]*string{} },
			code: CodeInvalidVolumeSource, target: "properties.volumes[1]", msgHas: "emptyDir and secret"},
		{name: "secret not base64", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[0].Secret["nginx.conf"] = to.Ptr("not base64!") },
			code: CodeInvalidSecretVolume, target: "properties.volumes[0].secret.nginx.conf"},
		{name: "secret without content", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[0].Secret["nginx.conf"] = nil },
			code: CodeInvalidSecretVolume, target: "properties.volumes[0].secret.nginx.conf"},
		{name: "secret file name escapes", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[0].Secret["../passwd"] = to.Ptr("eA==") },
			code: CodeInvalidSecretVolume, target: "properties.volumes[0].secret.../passwd"},
		{name: "azureFile without share", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[2].AzureFile.ShareName = nil },
			code: CodeInvalidAzureFileVolume, target: "properties.volumes[2].azureFile.shareName"},
		{name: "azureFile without account", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[2].AzureFile.StorageAccountName = to.Ptr("") },
			code: CodeInvalidAzureFileVolume, target: "properties.volumes[2].azureFile.storageAccountName"},
		{name: "gitRepo without repository", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3].GitRepo.Repository = nil },
			code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.repository"},
		{name: "gitRepo directory escapes", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3].GitRepo.Directory = to.Ptr("a/../../etc") },
			code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.directory"},
		{name: "gitRepo revision is an option", mutate: func(g *aci.ContainerGroup) {
			props(g).Volumes[3].GitRepo.Revision = to.Ptr("--pathspec-from-file=/etc/shadow")
		}, code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.revision", msgHas: "starts with '-'"},
		{name: "gitRepo repository is an option", mutate: func(g *aci.ContainerGroup) {
			props(g).Volumes[3].GitRepo.Repository = to.Ptr("--upload-pack=touch /tmp/x")
		}, code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.repository"},
		{name: "gitRepo repository on the host", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3].GitRepo.Repository = to.Ptr("/root/repo") },
			code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.repository", msgHas: "local paths"},
		{name: "gitRepo repository file URL", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3].GitRepo.Repository = to.Ptr("file:///root/repo") },
			code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.repository", msgHas: "scheme"},
		{name: "gitRepo directory is an option", mutate: func(g *aci.ContainerGroup) { props(g).Volumes[3].GitRepo.Directory = to.Ptr("-x") },
			code: CodeInvalidGitRepoVolume, target: "properties.volumes[3].gitRepo.directory"},
		// volume mounts
		{name: "mount of undefined volume", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].Name = to.Ptr("nosuch") },
			code: CodeInvalidVolumeMount, target: c1 + ".properties.volumeMounts[0].name", msgHas: "'nosuch'"},
		{name: "mount without name", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].Name = nil },
			code: CodeInvalidVolumeMount, target: c1 + ".properties.volumeMounts[0].name"},
		{name: "mount path relative", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].MountPath = to.Ptr("cache") },
			code: CodeInvalidVolumeMountPath, target: c1 + ".properties.volumeMounts[0].mountPath"},
		{name: "mount path empty", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].MountPath = nil },
			code: CodeInvalidVolumeMountPath, target: c1 + ".properties.volumeMounts[0].mountPath"},
		{name: "mount path with colon", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].MountPath = to.Ptr("/c:/data") },
			code: CodeInvalidVolumeMountPath, target: c1 + ".properties.volumeMounts[0].mountPath"},
		{name: "mount path root", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[0].MountPath = to.Ptr("//") },
			code: CodeInvalidVolumeMountPath, target: c1 + ".properties.volumeMounts[0].mountPath"},
		{name: "mount paths repeated", mutate: func(g *aci.ContainerGroup) { ctr(g, 1).VolumeMounts[1].MountPath = to.Ptr("/cache/") },
			code: CodeDuplicateVolumeMountPath, target: c1 + ".properties.volumeMounts[1].mountPath"},
		{name: "init container mount of undefined volume", mutate: func(g *aci.ContainerGroup) { initc(g).VolumeMounts[0].Name = to.Ptr("nosuch") },
			code: CodeInvalidVolumeMount, target: "properties.initContainers[0].properties.volumeMounts[0].name"},
		// environment
		{name: "env name empty", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[0].Name = to.Ptr("") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[0].name"},
		{name: "env name with '='", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[0].Name = to.Ptr("A=B") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[0].name",
			msgHas: "'A=B' in container 'web' is invalid: it contains '='. A valid environment variable name is one or more printable ASCII characters other than '='"},
		{name: "env name with a control character", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[0].Name = to.Ptr("A\tB") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[0].name", msgHas: `"A\tB"`},
		{name: "env name with NUL", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[0].Name = to.Ptr("A\x00") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[0].name", msgHas: "0x00"},
		{name: "env name not ASCII", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[0].Name = to.Ptr("größe") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[0].name", msgHas: "not a printable ASCII"},
		{name: "env null", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[1] = nil },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[1].name"},
		{name: "env repeated", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[1].Name = to.Ptr("MODE") },
			code: CodeDuplicateEnvironmentVariable, target: c0 + ".properties.environmentVariables[1].name"},
		{name: "env value and secureValue", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).EnvironmentVariables[1].Value = to.Ptr("") },
			code: CodeInvalidContainerEnvironmentVariable, target: c0 + ".properties.environmentVariables[1]"},
		{name: "init container env name invalid", mutate: func(g *aci.ContainerGroup) { initc(g).EnvironmentVariables[0].Name = to.Ptr("X=1") },
			code: CodeInvalidContainerEnvironmentVariable, target: "properties.initContainers[0].properties.environmentVariables[0].name"},
		// init containers
		{name: "init container image missing", mutate: func(g *aci.ContainerGroup) { initc(g).Image = to.Ptr(" ") },
			code: CodeMissingContainerImage, target: "properties.initContainers[0].properties.image", msgHas: "'init-config'"},
		{name: "init container name invalid", mutate: func(g *aci.ContainerGroup) { props(g).InitContainers[0].Name = to.Ptr("init_config") },
			code: CodeInvalidContainerName, target: "properties.initContainers[0].name"},
		{name: "init container properties missing", mutate: func(g *aci.ContainerGroup) { props(g).InitContainers[0].Properties = nil },
			code: CodeMissingContainerImage, target: "properties.initContainers[0].properties.image"},
		// container ports
		{name: "container port zero", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).Ports[0].Port = to.Ptr[int32](0) },
			code: CodeInvalidContainerPorts, target: c0 + ".properties.ports[0].port", msgHas: "'web'"},
		{name: "container port too high", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).Ports[1].Port = to.Ptr[int32](65536) },
			code: CodeInvalidContainerPorts, target: c0 + ".properties.ports[1].port"},
		{name: "container port missing", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).Ports[1] = &aci.ContainerPort{} },
			code: CodeInvalidContainerPorts, target: c0 + ".properties.ports[1].port"},
		{name: "container port protocol", mutate: func(g *aci.ContainerGroup) {
			ctr(g, 1).Ports[0].Protocol = to.Ptr(aci.ContainerNetworkProtocol("SCTP"))
		},
			code: CodeInvalidContainerPorts, target: c1 + ".properties.ports[0].protocol"},
		// ip address
		{name: "ip type missing", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Type = nil }, code: CodeInvalidIPAddressType, target: "properties.ipAddress.type"},
		{name: "ip type unknown", mutate: func(g *aci.ContainerGroup) {
			props(g).IPAddress.Type = to.Ptr(aci.ContainerGroupIPAddressType("Internal"))
		},
			code: CodeInvalidIPAddressType, target: "properties.ipAddress.type"},
		{name: "ip ports empty", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports = nil }, code: CodeMissingIPAddressPorts, target: "properties.ipAddress.ports"},
		{name: "ip ports too many", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports = ports(6) }, code: CodeTooManyIPAddressPorts, target: "properties.ipAddress.ports"},
		{name: "ip port zero", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports[0].Port = to.Ptr[int32](0) },
			code: CodeInvalidIPAddressPorts, target: "properties.ipAddress.ports[0].port"},
		{name: "ip port null", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports[2] = nil },
			code: CodeInvalidIPAddressPorts, target: "properties.ipAddress.ports[2].port"},
		{name: "ip port protocol", mutate: func(g *aci.ContainerGroup) {
			props(g).IPAddress.Ports[0].Protocol = to.Ptr(aci.ContainerGroupNetworkProtocol("ICMP"))
		},
			code: CodeInvalidIPAddressPorts, target: "properties.ipAddress.ports[0].protocol"},
		{name: "ip port repeated", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports[1].Port = to.Ptr[int32](80) },
			code: CodeDuplicateIPAddressPort, target: "properties.ipAddress.ports[1]"},
		{name: "ip port not exposed", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports[0].Port = to.Ptr[int32](8080) },
			code: CodeIPAddressPortNotExposed, target: "properties.ipAddress.ports[0]", msgHas: "8080/TCP"},
		{name: "ip port exposed with another protocol", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports[2].Protocol = nil },
			code: CodeIPAddressPortNotExposed, target: "properties.ipAddress.ports[2]", msgHas: "53/TCP"},
		{name: "dns label too short", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr("abcd") },
			code: CodeInvalidDNSNameLabel, target: "properties.ipAddress.dnsNameLabel"},
		{name: "dns label starts with digit", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr("1abcde") },
			code: CodeInvalidDNSNameLabel, target: "properties.ipAddress.dnsNameLabel"},
		{name: "dns label ends with hyphen", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr("abcde-") },
			code: CodeInvalidDNSNameLabel, target: "properties.ipAddress.dnsNameLabel"},
		{name: "dns label uppercase", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr("MyApp1") },
			code: CodeInvalidDNSNameLabel, target: "properties.ipAddress.dnsNameLabel"},
		{name: "dns label too long", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr(strings.Repeat("a", 64)) },
			code: CodeInvalidDNSNameLabel, target: "properties.ipAddress.dnsNameLabel"},
		// probes
		{name: "probe with exec and httpGet", mutate: func(g *aci.ContainerGroup) {
			ctr(g, 0).LivenessProbe.Exec = &aci.ContainerExec{Command: []*string{to.Ptr("true")}}
		}, code: CodeInvalidContainerProbe, target: c0 + ".properties.livenessProbe", msgHas: "liveness probe of container 'web'"},
		{name: "probe with neither", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).ReadinessProbe.Exec = nil },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.readinessProbe"},
		{name: "probe exec without command", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).ReadinessProbe.Exec.Command = nil },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.readinessProbe.exec.command"},
		{name: "probe httpGet port zero", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).LivenessProbe.HTTPGet.Port = to.Ptr[int32](0) },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.livenessProbe.httpGet.port"},
		{name: "probe httpGet port missing", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).LivenessProbe.HTTPGet.Port = nil },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.livenessProbe.httpGet.port"},
		{name: "probe httpGet scheme", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).LivenessProbe.HTTPGet.Scheme = to.Ptr(aci.Scheme("ftp")) },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.livenessProbe.httpGet.scheme"},
		{name: "probe negative period", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).ReadinessProbe.PeriodSeconds = to.Ptr[int32](-1) },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.readinessProbe.periodSeconds"},
		{name: "probe negative threshold", mutate: func(g *aci.ContainerGroup) { ctr(g, 0).LivenessProbe.FailureThreshold = to.Ptr[int32](-3) },
			code: CodeInvalidContainerProbe, target: c0 + ".properties.livenessProbe.failureThreshold"},
		// registry credentials
		{name: "registry without server", mutate: func(g *aci.ContainerGroup) { props(g).ImageRegistryCredentials[0].Server = nil },
			code: CodeInvalidImageRegistryCredential, target: "properties.imageRegistryCredentials[0].server"},
		{name: "registry credential null", mutate: func(g *aci.ContainerGroup) { props(g).ImageRegistryCredentials[1] = nil },
			code: CodeInvalidImageRegistryCredential, target: "properties.imageRegistryCredentials[1].server"},
		{name: "registry without username or identity", mutate: func(g *aci.ContainerGroup) { props(g).ImageRegistryCredentials[0].Username = nil },
			code: CodeInvalidImageRegistryCredential, target: "properties.imageRegistryCredentials[0].username"},
		{name: "registry server repeated", mutate: func(g *aci.ContainerGroup) {
			props(g).ImageRegistryCredentials[1].Server = to.Ptr("MyRegistry.azurecr.io")
		}, code: CodeDuplicateImageRegistryServer, target: "properties.imageRegistryCredentials[1].server"},
	}
}

func TestContainerGroupRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			base, loc := tc.base, testLoc
			if base == nil {
				base = maximal
			}
			if tc.loc != nil {
				loc = *tc.loc
			}
			g := base()
			tc.mutate(g)
			err := ContainerGroup(g, loc, testLim, wire.GroupExtensions{})
			if err == nil {
				t.Fatalf("ContainerGroup() = nil, want %s at %s", tc.code, tc.target)
			}
			if armerr.Status(err.Kind) != http.StatusBadRequest || err.Code != tc.code || err.Target != tc.target {
				t.Fatalf("ContainerGroup() = %d %s at %q, want 400 %s at %q (%s)",
					armerr.Status(err.Kind), err.Code, err.Target, tc.code, tc.target, err.Message)
			}
			if err.Message == "" || !strings.Contains(err.Message, tc.msgHas) {
				t.Errorf("message %q does not contain %q", err.Message, tc.msgHas)
			}
		})
	}
}

func TestContainerGroupNil(t *testing.T) {
	err := ContainerGroup(nil, testLoc, testLim, wire.GroupExtensions{})
	if err == nil || armerr.Status(err.Kind) != http.StatusBadRequest || err.Code != CodeInvalidRequestContent {
		t.Fatalf("ContainerGroup(nil) = %v, want 400 %s", err, CodeInvalidRequestContent)
	}
}

func TestContainerGroupValid(t *testing.T) {
	gpuLoc := config.DefaultLocationSpec("gpu")
	gpuLoc.Capabilities.MaxGPUCount = 2
	cases := []struct {
		name  string
		group func() *aci.ContainerGroup
		loc   config.Location
		lim   config.Limits
	}{
		{"minimal", minimal, testLoc, testLim},
		{"maximal", maximal, testLoc, testLim},
		{"maximal without limits configured", maximal, config.Location{}, config.Limits{}},
		{"requests at float granularity", func() *aci.ContainerGroup {
			g := maximal()
			res(g, 1).Requests.CPU = to.Ptr(0.29)       // 28.999999999999996 hundredths
			res(g, 1).Requests.MemoryInGB = to.Ptr(0.7) // 6.999999999999999 tenths
			res(g, 0).Limits.CPU = to.Ptr(1.79)         // == total 1.5+0.29 in float
			res(g, 0).Limits.MemoryInGB = to.Ptr(3.2)   // == total 2.5+0.7 in float
			return g
		}, testLoc, testLim},
		{"float-noisy total meets the minimum and a limit equal to it", func() *aci.ContainerGroup {
			g := minimal() // 0.7+0.2+0.1 is 0.9999999999999999
			res(g, 0).Requests.CPU = to.Ptr(0.7)
			res(g, 0).Limits = &aci.ResourceLimits{CPU: to.Ptr(1.0)}
			for i, cpu := range []float64{0.2, 0.1} {
				props(g).Containers = append(props(g).Containers, &aci.Container{Name: to.Ptr(fmt.Sprintf("c%d", i)),
					Properties: &aci.ContainerProperties{Image: to.Ptr("x"), Resources: reqs(cpu, 0.1)}})
			}
			return g
		}, testLoc, testLim},
		{"group at the location's maximum", func() *aci.ContainerGroup {
			g := minimal()
			props(g).Containers[0].Properties.Resources = reqs(4, 16)
			return g
		}, testLoc, testLim},
		{"gpu where available", func() *aci.ContainerGroup {
			g := minimal()
			res(g, 0).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](2), SKU: to.Ptr(aci.GpuSKU("v100"))}
			res(g, 0).Limits = &aci.ResourceLimits{Gpu: &aci.GpuResource{Count: to.Ptr[int32](1), SKU: to.Ptr(aci.GpuSKUV100)}}
			return g
		}, gpuLoc, testLim},
		{"restart policies", func() *aci.ContainerGroup {
			g := minimal()
			props(g).RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicyNever)
			return g
		}, testLoc, testLim},
		{"private ip without dns label", func() *aci.ContainerGroup {
			g := maximal()
			props(g).IPAddress.Type = to.Ptr(aci.ContainerGroupIPAddressTypePrivate)
			props(g).IPAddress.DNSNameLabel = nil
			return g
		}, testLoc, testLim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ContainerGroup(tc.group(), tc.loc, tc.lim, wire.GroupExtensions{}); err != nil {
				t.Fatalf("ContainerGroup() = %v, want nil", err)
			}
		})
	}
}

func TestContainerGroupDoesNotModify(t *testing.T) {
	g := maximal()
	before, _ := json.Marshal(g)
	_ = ContainerGroup(g, testLoc, testLim, wire.GroupExtensions{})
	after, _ := json.Marshal(g)
	if string(before) != string(after) {
		t.Fatalf("ContainerGroup modified its argument:\n%s\n%s", before, after)
	}
}

func TestGroupName(t *testing.T) {
	valid := []string{"a", "0", "my-group", "a1-b2-c3", strings.Repeat("a", 63)}
	for _, n := range valid {
		if err := GroupName(n); err != nil {
			t.Errorf("GroupName(%q) = %v, want nil", n, err)
		}
	}
	invalid := []string{"", "A", "My-group", "-a", "a-", "a--b", "a_b", "a.b", "a b", "grüße", strings.Repeat("a", 64)}
	for _, n := range invalid {
		err := GroupName(n)
		if err == nil {
			t.Errorf("GroupName(%q) = nil, want an error", n)
			continue
		}
		if armerr.Status(err.Kind) != http.StatusBadRequest || err.Code != CodeInvalidContainerGroupName || err.Target != "containerGroupName" {
			t.Errorf("GroupName(%q) = %d %s at %q, want 400 %s at containerGroupName",
				n, armerr.Status(err.Kind), err.Code, err.Target, CodeInvalidContainerGroupName)
		}
		if !strings.Contains(err.Message, "'"+n+"'") {
			t.Errorf("GroupName(%q) message %q does not name it", n, err.Message)
		}
	}
}

func TestImmutableChange(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(g *aci.ContainerGroup)
		target string // "" when the update is allowed
		msgHas string
	}{
		{name: "identical", mutate: func(*aci.ContainerGroup) {}},
		{name: "os type case", mutate: func(g *aci.ContainerGroup) { props(g).OSType = to.Ptr(aci.OperatingSystemTypesLinux) }},
		{name: "restart policy case", mutate: func(g *aci.ContainerGroup) { props(g).RestartPolicy = to.Ptr(aci.ContainerGroupRestartPolicyOnFailure) }},
		{name: "image and env", mutate: func(g *aci.ContainerGroup) {
			ctr(g, 0).Image = to.Ptr("nginx:1.28")
			ctr(g, 0).EnvironmentVariables = nil
		}},
		{name: "dns label", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.DNSNameLabel = to.Ptr("other-label") }},
		{name: "tags and volumes", mutate: func(g *aci.ContainerGroup) {
			g.Tags = nil
			props(g).Volumes = props(g).Volumes[:2]
		}},
		{name: "port order and protocol case", mutate: func(g *aci.ContainerGroup) {
			p := props(g).IPAddress.Ports
			p[0], p[2] = p[2], p[0]
			p[1].Protocol = to.Ptr(aci.ContainerGroupNetworkProtocol("tcp"))
		}},
		{name: "container order", mutate: func(g *aci.ContainerGroup) {
			c := props(g).Containers
			c[0], c[1] = c[1], c[0]
		}},
		{name: "equal cpu written differently", mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(1.5000000000001) }},
		{name: "os type", mutate: func(g *aci.ContainerGroup) { props(g).OSType = to.Ptr(aci.OperatingSystemTypesWindows) },
			target: "properties.osType", msgHas: "'Linux' to 'Windows'"},
		{name: "restart policy", mutate: func(g *aci.ContainerGroup) { props(g).RestartPolicy = nil },
			target: "properties.restartPolicy", msgHas: "'OnFailure' to 'Always'"},
		{name: "cpu request", mutate: func(g *aci.ContainerGroup) { res(g, 0).Requests.CPU = to.Ptr(2.0) },
			target: c0 + ".properties.resources.requests.cpu", msgHas: "container 'web'"},
		{name: "memory request", mutate: func(g *aci.ContainerGroup) { res(g, 1).Requests.MemoryInGB = to.Ptr(2.0) },
			target: c1 + ".properties.resources.requests.memoryInGB", msgHas: "from 1.5 to 2"},
		{name: "gpu request", mutate: func(g *aci.ContainerGroup) {
			res(g, 1).Requests.Gpu = &aci.GpuResource{Count: to.Ptr[int32](1), SKU: to.Ptr(aci.GpuSKUK80)}
		}, target: c1 + ".properties.resources.requests.gpu"},
		{name: "cpu limit removed", mutate: func(g *aci.ContainerGroup) { res(g, 0).Limits = nil },
			target: c0 + ".properties.resources.limits.cpu", msgHas: "from 2 to unset"},
		{name: "container added", mutate: func(g *aci.ContainerGroup) {
			props(g).Containers = append(props(g).Containers, &aci.Container{Name: to.Ptr("extra"),
				Properties: &aci.ContainerProperties{Image: to.Ptr("x"), Resources: reqs(0.1, 0.1)}})
		}, target: "properties.containers[2]", msgHas: "'extra' would be added"},
		{name: "container removed", mutate: func(g *aci.ContainerGroup) { props(g).Containers = props(g).Containers[:1] },
			target: "properties.containers", msgHas: "'dns--sidecar' would be removed"},
		{name: "container renamed", mutate: func(g *aci.ContainerGroup) { props(g).Containers[0].Name = to.Ptr("www") },
			target: c0, msgHas: "'www' would be added"},
		{name: "ip type", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Type = to.Ptr(aci.ContainerGroupIPAddressTypePrivate) },
			target: "properties.ipAddress.type", msgHas: "'Public' to 'Private'"},
		{name: "ip address removed", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress = nil },
			target: "properties.ipAddress.type", msgHas: "'Public' to none"},
		{name: "ip ports", mutate: func(g *aci.ContainerGroup) { props(g).IPAddress.Ports = props(g).IPAddress.Ports[:2] },
			target: "properties.ipAddress.ports", msgHas: "[443/TCP 53/UDP 80/TCP] to [443/TCP 80/TCP]"},
		{name: "subnets", mutate: func(g *aci.ContainerGroup) {
			props(g).SubnetIDs = []*aci.ContainerGroupSubnetID{{ID: to.Ptr("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a")}}
		}, target: "properties.subnetIds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, updated := maximal(), maximal()
			old.Name, updated.Name = to.Ptr("grp"), to.Ptr("grp")
			tc.mutate(updated)
			err := ImmutableChange(old, updated)
			if tc.target == "" {
				if err != nil {
					t.Fatalf("ImmutableChange() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ImmutableChange() = nil, want a refusal at %s", tc.target)
			}
			if armerr.Status(err.Kind) != http.StatusConflict || err.Code != CodeInvalidContainerGroupUpdate || err.Target != tc.target {
				t.Fatalf("ImmutableChange() = %d %s at %q, want 409 %s at %q (%s)",
					armerr.Status(err.Kind), err.Code, err.Target, CodeInvalidContainerGroupUpdate, tc.target, err.Message)
			}
			for _, want := range []string{tc.msgHas, "'grp'", "delete the container group and create it again"} {
				if !strings.Contains(err.Message, want) {
					t.Errorf("message %q does not contain %q", err.Message, want)
				}
			}
		})
	}
}

func TestImmutableChangeNil(t *testing.T) {
	g := maximal()
	for _, pair := range [][2]*aci.ContainerGroup{{nil, g}, {g, nil}, {{}, g}, {g, {}}} {
		if err := ImmutableChange(pair[0], pair[1]); err != nil {
			t.Errorf("ImmutableChange() = %v, want nil", err)
		}
	}
}

// fuzzSeeds are request bodies to start fuzzing from.
func fuzzSeeds(f *testing.F) [][]byte {
	body, err := json.Marshal(maximal())
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		body,
		[]byte(`{"location":"westeurope","properties":{"osType":"Linux","containers":[{"name":"web","properties":` +
			`{"image":"nginx","resources":{"requests":{"cpu":1,"memoryInGB":1.5}}}}]}}`),
		[]byte(`{"location":"westeurope","properties":{"osType":"Linux","securityContext":{"supplementalGroups":[5],` +
			`"sysctls":[{"name":"net.ipv4.tcp_syncookies","value":"1"}]},"containers":[{"name":"web","properties":` +
			`{"image":"nginx","securityContext":{"runAsUser":1,"runAsNonRoot":true,"seccompProfileType":"Unconfined"},` +
			`"resources":{"requests":{"cpu":1,"memoryInGB":1.5}}}}]}}`),
		[]byte(`{"location":"x","properties":{"osType":"linux","containers":[null,{"name":"a","properties":null}],` +
			`"volumes":[null,{"name":"vvvvv","secret":{"":null}}],"ipAddress":{"ports":[null]}}}`),
		[]byte(`{"location":"x","properties":{"osType":"Linux","containers":[{"name":"a","properties":{"image":"i",` +
			`"resources":{"requests":{"cpu":1e308,"memoryInGB":-0},"limits":{"cpu":1e308,"gpu":{"count":-1}}},` +
			`"livenessProbe":{},"volumeMounts":[{}],"environmentVariables":[{}],"ports":[{"port":-5}]}}],` +
			`"imageRegistryCredentials":[{}],"initContainers":[{}]}}`),
		[]byte(`{}`),
		[]byte(`null`),
	}
}

func FuzzContainerGroup(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var g aci.ContainerGroup
		if err := json.Unmarshal(data, &g); err != nil {
			t.Skip()
		}
		check := func(what string, err *errdefs.Error, lo, hi int) {
			if err == nil {
				return
			}
			if armerr.Status(err.Kind) < lo || armerr.Status(err.Kind) > hi || err.Code == "" || err.Message == "" {
				t.Fatalf("%s = %d %q %q for %s", what, armerr.Status(err.Kind), err.Code, err.Message, data)
			}
		}
		check("ContainerGroup", ContainerGroup(&g, testLoc, testLim, wire.GroupExtensions{}), 400, 499)
		check("ContainerGroup without limits", ContainerGroup(&g, config.Location{}, config.Limits{}, wire.GroupExtensions{}), 400, 499)
		if ext, err := wire.ParseGroup(data); err == nil {
			check("ContainerGroup with its additions", ContainerGroup(&g, testLoc, testLim, ext), 400, 499)
		}
		check("ImmutableChange", ImmutableChange(maximal(), &g), 409, 409)
		check("ImmutableChange", ImmutableChange(&g, maximal()), 409, 409)
		check("GroupName", GroupName(string(data)), 400, 400)
	})
}

// A probe may use vnode's tcpSocket action instead of exec or httpGet,
// never beside one, and only with a valid port.
func TestTCPSocketProbes(t *testing.T) {
	tcpOnly := func() *aci.ContainerGroup {
		g := maximal()
		ctr(g, 0).LivenessProbe = &aci.ContainerProbe{PeriodSeconds: to.Ptr[int32](5)}
		return g
	}
	web := *maximal().Properties.Containers[0].Name
	if err := ContainerGroup(tcpOnly(), testLoc, testLim, wire.GroupExtensions{Probes: map[string]wire.Probes{web: {Liveness: &wire.TCPSocket{Port: 80}}}}); err != nil {
		t.Errorf("a tcpSocket liveness probe: %v", err)
	}
	if err := ContainerGroup(tcpOnly(), testLoc, testLim, wire.GroupExtensions{}); err == nil || err.Code != CodeInvalidContainerProbe {
		t.Errorf("a probe with no action: %v", err)
	}
	at := "properties.containers[0].properties.livenessProbe"
	for _, tc := range []struct {
		name   string
		g      *aci.ContainerGroup
		port   int32
		target string
	}{
		{"beside exec", maximal(), 80, at},
		{"port zero", tcpOnly(), 0, at + ".tcpSocket.port"},
		{"port too large", tcpOnly(), 70000, at + ".tcpSocket.port"},
	} {
		if tc.g.Properties.Containers[0].Properties.LivenessProbe == nil {
			t.Fatal("the maximal group has no liveness probe")
		}
		err := ContainerGroup(tc.g, testLoc, testLim, wire.GroupExtensions{Probes: map[string]wire.Probes{web: {Liveness: &wire.TCPSocket{Port: tc.port}}}})
		if err == nil || err.Code != CodeInvalidContainerProbe || err.Target != tc.target {
			t.Errorf("%s: %v, want %s at %s", tc.name, err, CodeInvalidContainerProbe, tc.target)
		}
	}
}
