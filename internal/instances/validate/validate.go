// Package validate checks container group requests the way Azure Container
// Instances does before it accepts them: GroupName checks the name in the
// URL, ContainerGroup the body of a PUT, and ImmutableChange whether a PUT on
// an existing group changes what ACI cannot change in place. SecretRefresh
// checks the body of vnode's refreshVolumes action. Environment variable
// names follow Kubernetes' rule, wider than ACI's (vnode's env-names
// extension).
//
// Each check answers the first problem it finds as an *errdefs.Error whose
// Target is the JSON path of the offending field (for example
// "properties.containers[1].properties.resources.requests.cpu") and whose
// Message names the container or volume and says what to change.
//
// # Error codes
//
// Codes marked "seen" appear in answers of the real ACI service (public
// issue threads and blog posts quoting them); the others were chosen here
// because ACI's own code for that rule could not be found, or the rule is
// one of vnode's additions (hostname, fqdn, hostAliases, valueFrom, args,
// refreshVolumes), which ACI does not have. All are errdefs.Invalid (HTTP
// 400) except InvalidContainerGroupUpdate (errdefs.Conflict, 409, see
// ImmutableChange).
//
//	InvalidRequestContent                              no body at all (ARM's code for an unreadable body)
//	InvalidContainerGroupName                          group name in the URL breaks the naming rules
//	LocationRequired                                   location missing
//	MissingContainerGroupProperties                    properties missing
//	MissingOsType                                      properties.osType missing
//	OsVersionNotSupported                    (seen)    osType Windows: only Linux is supported here
//	InvalidOsType                                      osType neither Linux nor Windows
//	InvalidRestartPolicy                               restartPolicy not Always, OnFailure or Never
//	TooManyVolumes                                     more volumes than Limits.VolumesPerGroup
//	InvalidVolumeName                                  volume name breaks the naming rules
//	DuplicateVolumeName                                two volumes share a name
//	InvalidVolumeSource                                a volume has no source or several
//	InvalidAzureFileVolume                             azureFile without shareName or storageAccountName
//	InvalidSecretVolume                                secret file name unusable (see secretfiles.Rule) or content not base64
//	InvalidGitRepoVolume                               gitRepo without repository, or an escaping directory
//	MissingContainers                                  no containers
//	TooManyContainers                                  more containers than Limits.ContainersPerGroup
//	InvalidContainerName                     (seen)    container or init container name breaks the naming rules
//	DuplicateContainerName                             two containers or init containers share a name
//	MissingContainerImage                              image missing
//	InvalidContainerCommand                            command or args: over 4096 entries, an entry over 128 KiB or with NUL, 2 MiB in all
//	MissingContainerResourceRequests                   resources.requests, cpu or memoryInGB missing
//	InvalidContainerResourceRequests                   request not positive or not a multiple of 0.01 CPU / 0.1 GB
//	InvalidContainerResourceLimits                     limit not positive or not a multiple of 0.01 CPU / 0.1 GB
//	InvalidGpuResource                                 gpu without a positive count or a known SKU
//	ContainerLimitGreaterThanContainerGroupTotalRequest (seen) a container's limit exceeds the group's total request
//	ContainerGroupResourceRequestBelowMinimum          group total below Limits.MinGroupCPU / MinGroupMemoryInGB
//	ContainerGroupResourceRequestExceedsCapabilities   group total above the location's MaxCPU / MaxMemoryInGB / MaxGPUCount
//	InvalidContainerPorts                    (seen)    container port outside 1-65535 or protocol not TCP/UDP
//	InvalidContainerEnvironmentVariable      (seen)    env var name empty or with '=' or other than printable ASCII
//	                                                   (Kubernetes' rule, wider than ACI's), both value and secureValue,
//	                                                   a value with a NUL byte,
//	                                                   or valueFrom beside a value or with a fieldPath other than status.podIP(s)
//	DuplicateEnvironmentVariable                       env var name repeated within a container
//	InvalidVolumeMount                                 mount without a name or naming an undefined volume
//	InvalidVolumeMountPath                             mountPath missing, relative, "/" or containing ':'
//	DuplicateVolumeMountPath                           two mounts of one container share a mountPath
//	InvalidContainerProbe                              probe without exactly one of exec/httpGet, or bad values
//	InvalidContainerSecurityContext                    privileged, a capability the location does not allow or not a
//	                                                   capability name, or a seccompProfile that is not base64 JSON
//	InvalidIpAddressType                               ipAddress.type missing or not Public/Private
//	MissingIpAddressPorts                    (seen)    ipAddress without ports
//	TooManyIpAddressPorts                              more ipAddress ports than Limits.PortsPerIP
//	InvalidIpAddressPorts                              ipAddress port outside 1-65535 or protocol not TCP/UDP
//	DuplicateIpAddressPort                             ipAddress lists a port twice
//	IpAddressPortNotExposed                            ipAddress port not exposed by any container
//	InvalidDnsNameLabel                                dnsNameLabel breaks the DNS label rules (message as ACI's)
//	InvalidImageRegistryCredential                     credential without server, or without username and identity
//	DuplicateImageRegistryServer                       two credentials for one server
//	InvalidContainerGroupUpdate              (seen)    ImmutableChange: property that cannot change in place
//	InvalidHostname                                    hostname neither an RFC 1123 label nor a DNS subdomain of at most 64
//	InvalidFqdn                                        fqdn not a DNS subdomain of at most 253 characters
//	InvalidHostAlias                                   host alias without a valid IP or hostnames, or with a bad hostname
//	InvalidVolume                                      SecretRefresh: a volume not among the group's secret volumes, or without files
//	InvalidTerminationMessage                          termination message path not absolute, clean, bounded or apart from mounts; unknown policy
//	InvalidVolumeFiles                                 a file mode beyond 0777 or for no file; an emptyDir medium or sizeLimit that is unknown or negative
//	InvalidFsGroup                                     fsGroup outside 0–2147483647; unknown fsGroupChangePolicy
//	InvalidSubPath                                     subPath not relative, clean and bounded, with '..', or for no mount
//	InvalidContainerLifecycle                          hook without exactly one action, an unbounded command, path or header, a port
//	                                                   outside 1-65535, a host not an IP, sleep past the grace period; grace outside 0-3600
package validate

import (
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// Error codes this package answers with; see the package documentation.
const (
	CodeInvalidRequestContent                               = "InvalidRequestContent"
	CodeInvalidContainerGroupName                           = "InvalidContainerGroupName"
	CodeLocationRequired                                    = "LocationRequired"
	CodeMissingContainerGroupProperties                     = "MissingContainerGroupProperties"
	CodeMissingOsType                                       = "MissingOsType"
	CodeOsVersionNotSupported                               = "OsVersionNotSupported"
	CodeInvalidOsType                                       = "InvalidOsType"
	CodeInvalidRestartPolicy                                = "InvalidRestartPolicy"
	CodeTooManyVolumes                                      = "TooManyVolumes"
	CodeInvalidVolumeName                                   = "InvalidVolumeName"
	CodeDuplicateVolumeName                                 = "DuplicateVolumeName"
	CodeInvalidVolumeSource                                 = "InvalidVolumeSource"
	CodeInvalidAzureFileVolume                              = "InvalidAzureFileVolume"
	CodeInvalidSecretVolume                                 = "InvalidSecretVolume"
	CodeInvalidGitRepoVolume                                = "InvalidGitRepoVolume"
	CodeInvalidContainerSecurityContext                     = "InvalidContainerSecurityContext"
	CodeMissingContainers                                   = "MissingContainers"
	CodeTooManyContainers                                   = "TooManyContainers"
	CodeInvalidContainerName                                = "InvalidContainerName"
	CodeDuplicateContainerName                              = "DuplicateContainerName"
	CodeMissingContainerImage                               = "MissingContainerImage"
	CodeInvalidContainerCommand                             = "InvalidContainerCommand"
	CodeMissingContainerResourceRequests                    = "MissingContainerResourceRequests"
	CodeInvalidContainerResourceRequests                    = "InvalidContainerResourceRequests"
	CodeInvalidContainerResourceLimits                      = "InvalidContainerResourceLimits"
	CodeInvalidGpuResource                                  = "InvalidGpuResource"
	CodeContainerLimitGreaterThanContainerGroupTotalRequest = "ContainerLimitGreaterThanContainerGroupTotalRequest"
	CodeContainerGroupResourceRequestBelowMinimum           = "ContainerGroupResourceRequestBelowMinimum"
	CodeContainerGroupResourceRequestExceedsCapabilities    = "ContainerGroupResourceRequestExceedsCapabilities"
	CodeInvalidContainerPorts                               = "InvalidContainerPorts"
	CodeInvalidContainerEnvironmentVariable                 = "InvalidContainerEnvironmentVariable"
	CodeDuplicateEnvironmentVariable                        = "DuplicateEnvironmentVariable"
	CodeInvalidVolumeMount                                  = "InvalidVolumeMount"
	CodeInvalidVolumeMountPath                              = "InvalidVolumeMountPath"
	CodeDuplicateVolumeMountPath                            = "DuplicateVolumeMountPath"
	CodeInvalidContainerProbe                               = "InvalidContainerProbe"
	CodeInvalidIPAddressType                                = "InvalidIpAddressType"
	CodeMissingIPAddressPorts                               = "MissingIpAddressPorts"
	CodeTooManyIPAddressPorts                               = "TooManyIpAddressPorts"
	CodeInvalidIPAddressPorts                               = "InvalidIpAddressPorts"
	CodeDuplicateIPAddressPort                              = "DuplicateIpAddressPort"
	CodeIPAddressPortNotExposed                             = "IpAddressPortNotExposed"
	CodeInvalidDNSNameLabel                                 = "InvalidDnsNameLabel"
	CodeInvalidImageRegistryCredential                      = "InvalidImageRegistryCredential"
	CodeDuplicateImageRegistryServer                        = "DuplicateImageRegistryServer"
	CodeInvalidContainerGroupUpdate                         = "InvalidContainerGroupUpdate"
	CodeInvalidHostname                                     = "InvalidHostname"
	CodeInvalidFQDN                                         = "InvalidFqdn"
	CodeInvalidHostAlias                                    = "InvalidHostAlias"
	CodeInvalidVolume                                       = "InvalidVolume"
	CodeInvalidTerminationMessage                           = "InvalidTerminationMessage"
	CodeInvalidVolumeFiles                                  = "InvalidVolumeFiles"
	CodeInvalidFSGroup                                      = "InvalidFsGroup"
	CodeInvalidSubPath                                      = "InvalidSubPath"
	CodeInvalidContainerLifecycle                           = "InvalidContainerLifecycle"
)

// GroupName checks a container group name from the request URL: 1 to 63
// lowercase letters, digits and '-', not starting or ending with '-' and
// without "--".
func GroupName(name string) *errdefs.Error {
	if p := labelProblem(name, 1, 63, false); p != "" {
		return errdefs.InvalidField(CodeInvalidContainerGroupName, "containerGroupName",
			"The container group name '%s' is invalid: it %s. A container group name has 1 to 63 "+
				"lowercase letters, digits and '-', does not start or end with '-' and has no '--' (e.g. 'my-group').",
			name, p)
	}
	return nil
}

// ContainerGroup checks the body of a PUT the way ACI does and returns the
// first problem, or nil when the group is acceptable. The caller checks that
// the location exists; loc supplies its capabilities. Zero Limits fields and
// a zero MaxCPU or MaxMemoryInGB impose no bound; a zero MaxGPUCount allows
// no GPU.
func ContainerGroup(g *aci.ContainerGroup, loc config.Location, lim config.Limits, ext wire.GroupExtensions) *errdefs.Error {
	if g == nil {
		return errdefs.InvalidContent("The request has no body; send the container group as JSON.")
	}
	if strings.TrimSpace(str(g.Location)) == "" {
		return errdefs.InvalidField(CodeLocationRequired, "location",
			"The container group has no location. Set 'location' to the region to deploy it in.")
	}
	p := g.Properties
	if p == nil {
		return errdefs.InvalidField(CodeMissingContainerGroupProperties, "properties",
			"The container group has no 'properties'. Set properties.osType and properties.containers at least.")
	}
	c := &checker{loc: loc, lim: lim, ext: ext, names: map[string]bool{}}
	return first(
		func() *errdefs.Error { return checkOSType(p.OSType) },
		func() *errdefs.Error { return checkRestartPolicy(p.RestartPolicy) },
		func() *errdefs.Error { return c.volumes(p.Volumes) },
		func() *errdefs.Error { return c.containers(p.Containers) },
		func() *errdefs.Error { return c.initContainers(p.InitContainers) },
		func() *errdefs.Error { return c.groupResources(p.Containers) },
		func() *errdefs.Error { return c.ipAddress(p.IPAddress, p.Containers) },
		func() *errdefs.Error { return checkRegistryCredentials(p.ImageRegistryCredentials) },
		func() *errdefs.Error { return checkGroupHosts(ext) },
		func() *errdefs.Error { return c.securityNames() },
		func() *errdefs.Error { return checkPodSecurity(ext.PodSecurity) },
		func() *errdefs.Error { return c.volumeAdditions(p) },
		func() *errdefs.Error { return checkGracePeriod(ext) },
	)
}

// checker carries what checks of one group share.
type checker struct {
	loc config.Location
	lim config.Limits
	// ext are vnode's additions the group's JSON carried.
	ext wire.GroupExtensions
	// volumeNames are the names of the group's volumes.
	volumeNames map[string]bool
	// names are the container and init container names seen so far.
	names map[string]bool
}

// first runs checks in order and returns the first error.
func first(checks ...func() *errdefs.Error) *errdefs.Error {
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func checkOSType(os *aci.OperatingSystemTypes) *errdefs.Error {
	const target = "properties.osType"
	if os == nil || strings.TrimSpace(string(*os)) == "" {
		return errdefs.InvalidField(CodeMissingOsType, target,
			"The container group has no OS type. Set properties.osType to 'Linux'.")
	}
	switch {
	case strings.EqualFold(string(*os), string(aci.OperatingSystemTypesLinux)):
		return nil
	case strings.EqualFold(string(*os), string(aci.OperatingSystemTypesWindows)):
		return errdefs.InvalidField(CodeOsVersionNotSupported, target,
			"Windows container groups are not supported by this service; only Linux is. Set properties.osType to 'Linux'.")
	}
	return errdefs.InvalidField(CodeInvalidOsType, target,
		"The OS type '%s' is invalid. Set properties.osType to 'Linux'.", string(*os))
}

func checkRestartPolicy(rp *aci.ContainerGroupRestartPolicy) *errdefs.Error {
	if rp == nil {
		return nil
	}
	for _, v := range aci.PossibleContainerGroupRestartPolicyValues() {
		if strings.EqualFold(string(*rp), string(v)) {
			return nil
		}
	}
	return errdefs.InvalidField(CodeInvalidRestartPolicy, "properties.restartPolicy",
		"The restart policy '%s' is invalid. Use 'Always', 'OnFailure' or 'Never' (or leave it out for 'Always').", string(*rp))
}

// str dereferences s, "" for nil.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
