package service

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/validate"
	"github.com/vnode-io/vnode/internal/wire"
)

// secretValues are the write-only parts of a container group. They are kept
// apart from the spec, sealed at rest and never returned.
type secretValues struct {
	// Env maps container name → variable name → secure value.
	Env map[string]map[string]string `json:"env,omitempty"`
	// RegistryPasswords maps registry server → password.
	RegistryPasswords map[string]string `json:"registryPasswords,omitempty"`
	// SecretVolumes maps volume name → file name → base64 contents.
	SecretVolumes map[string]map[string]string `json:"secretVolumes,omitempty"`
	// ShareKeys maps volume name → storage account key.
	ShareKeys map[string]string `json:"shareKeys,omitempty"`
	// WorkspaceKey is the Log Analytics workspace key.
	WorkspaceKey string `json:"workspaceKey,omitempty"`
	// ExtensionSettings maps extension name → its protectedSettings (JSON).
	ExtensionSettings map[string]json.RawMessage `json:"extensionSettings,omitempty"`
}

// splitSecrets removes the secrets from a validated group body (in place)
// and returns them. Secure variables keep their names; secret volumes keep
// their file names with no contents.
func splitSecrets(g *aci.ContainerGroup) *secretValues {
	s := &secretValues{}
	p := g.Properties
	envs := func(container string, vars []*aci.EnvironmentVariable) {
		for _, v := range vars {
			if v == nil || v.SecureValue == nil || v.Name == nil {
				continue
			}
			if s.Env == nil {
				s.Env = map[string]map[string]string{}
			}
			if s.Env[container] == nil {
				s.Env[container] = map[string]string{}
			}
			s.Env[container][*v.Name] = *v.SecureValue
			v.SecureValue = nil
		}
	}
	for _, c := range p.Containers {
		if c != nil && c.Name != nil && c.Properties != nil {
			envs(*c.Name, c.Properties.EnvironmentVariables)
		}
	}
	for _, c := range p.InitContainers {
		if c != nil && c.Name != nil && c.Properties != nil {
			envs(*c.Name, c.Properties.EnvironmentVariables)
		}
	}
	for _, r := range p.ImageRegistryCredentials {
		if r != nil && r.Server != nil && r.Password != nil {
			if s.RegistryPasswords == nil {
				s.RegistryPasswords = map[string]string{}
			}
			s.RegistryPasswords[*r.Server] = *r.Password
			r.Password = nil
		}
	}
	for _, v := range p.Volumes {
		if v == nil || v.Name == nil {
			continue
		}
		if v.Secret != nil {
			files := map[string]string{}
			for name, val := range v.Secret {
				if val != nil {
					files[name] = *val
				}
				v.Secret[name] = nil
			}
			if s.SecretVolumes == nil {
				s.SecretVolumes = map[string]map[string]string{}
			}
			s.SecretVolumes[*v.Name] = files
		}
		if v.AzureFile != nil && v.AzureFile.StorageAccountKey != nil {
			if s.ShareKeys == nil {
				s.ShareKeys = map[string]string{}
			}
			s.ShareKeys[*v.Name] = *v.AzureFile.StorageAccountKey
			v.AzureFile.StorageAccountKey = nil
		}
	}
	if p.Diagnostics != nil && p.Diagnostics.LogAnalytics != nil && p.Diagnostics.LogAnalytics.WorkspaceKey != nil {
		s.WorkspaceKey = *p.Diagnostics.LogAnalytics.WorkspaceKey
		p.Diagnostics.LogAnalytics.WorkspaceKey = nil
	}
	for i, e := range p.Extensions {
		if e == nil || e.Properties == nil || e.Properties.ProtectedSettings == nil {
			continue
		}
		raw, err := json.Marshal(e.Properties.ProtectedSettings)
		if err == nil {
			if s.ExtensionSettings == nil {
				s.ExtensionSettings = map[string]json.RawMessage{}
			}
			name := str(e.Name)
			if name == "" {
				name = fmt.Sprintf("#%d", i)
			}
			s.ExtensionSettings[name] = raw
		}
		e.Properties.ProtectedSettings = nil
	}
	return s
}

// cleanSpec drops what a client may send but the service computes: the
// resource's id, name and type, provisioning state and instance views.
func cleanSpec(g *aci.ContainerGroup) {
	g.ID, g.Name, g.Type = nil, nil, nil
	p := g.Properties
	p.ProvisioningState = nil
	p.InstanceView = nil
	for _, c := range p.Containers {
		if c != nil && c.Properties != nil {
			c.Properties.InstanceView = nil
		}
	}
	for _, c := range p.InitContainers {
		if c != nil && c.Properties != nil {
			c.Properties.InstanceView = nil
		}
	}
	if p.IPAddress != nil {
		p.IPAddress.IP = nil
		p.IPAddress.Fqdn = nil
	}
	if p.RestartPolicy != nil {
		for _, rp := range aci.PossibleContainerGroupRestartPolicyValues() {
			if strings.EqualFold(string(*p.RestartPolicy), string(rp)) {
				canonical := rp
				p.RestartPolicy = &canonical
			}
		}
	}
	if p.OSType != nil {
		os := aci.OperatingSystemTypesLinux
		if strings.EqualFold(string(*p.OSType), string(aci.OperatingSystemTypesWindows)) {
			os = aci.OperatingSystemTypesWindows
		}
		p.OSType = &os
	}
}

// specEqual reports whether two cleaned specs describe the same deployment
// (tags aside).
func specEqual(a, b *aci.ContainerGroup, sa, sb *secretValues) bool {
	ja, _ := json.Marshal(a.Properties)
	jb, _ := json.Marshal(b.Properties)
	if string(ja) != string(jb) {
		return false
	}
	xa, _ := json.Marshal(sa)
	xb, _ := json.Marshal(sb)
	return string(xa) == string(xb)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func f64(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func i32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// totals returns the CPU and memory a group requests in all.
func totals(g *aci.ContainerGroup) (cpu, mem float64) {
	for _, c := range g.Properties.Containers {
		if c == nil || c.Properties == nil || c.Properties.Resources == nil || c.Properties.Resources.Requests == nil {
			continue
		}
		cpu += f64(c.Properties.Resources.Requests.CPU)
		mem += f64(c.Properties.Resources.Requests.MemoryInGB)
	}
	return cpu, mem
}

// runtimeSpec translates a group into what a runtime runs.
func runtimeSpec(uid, name, id string, g *aci.ContainerGroup, s *secretValues, ext wire.GroupExtensions) (runtime.GroupSpec, error) {
	p := g.Properties
	spec := runtime.GroupSpec{
		ID:                       uid,
		Name:                     name,
		Hostname:                 ext.Hostname,
		FQDN:                     ext.FQDN,
		HostAliases:              hostAliases(ext.HostAliases),
		RestartPolicy:            runtime.RestartAlways,
		Labels:                   map[string]string{"vnode.io/resource-id": id},
		SupplementalGroups:       slices.Clone(ext.PodSecurity.SupplementalGroups),
		SupplementalGroupsPolicy: ext.PodSecurity.SupplementalGroupsPolicy,
		GracePeriod:              gracePeriod(ext),
	}
	for _, sc := range ext.PodSecurity.Sysctls {
		if spec.Sysctls == nil {
			spec.Sysctls = map[string]string{}
		}
		spec.Sysctls[sc.Name] = sc.Value
	}
	if p.RestartPolicy != nil {
		spec.RestartPolicy = runtime.RestartPolicy(*p.RestartPolicy)
	}
	for k, v := range g.Tags {
		if v != nil {
			spec.Labels["tag."+k] = *v
		}
	}
	for _, c := range p.InitContainers {
		if c == nil || c.Properties == nil {
			continue
		}
		cs := runtime.ContainerSpec{Name: str(c.Name), Image: str(c.Properties.Image),
			Command: strs(c.Properties.Command), Args: slices.Clone(ext.Args[str(c.Name)]),
			SecurityContext: securityContext(c.Properties.SecurityContext, ext.Security[str(c.Name)])}
		cs.Env = env(c.Properties.EnvironmentVariables, s.Env[cs.Name], ext.FieldEnv[cs.Name])
		cs.VolumeMounts = mounts(c.Properties.VolumeMounts)
		setTermination(&cs, ext)
		spec.InitContainers = append(spec.InitContainers, cs)
	}
	for _, c := range p.Containers {
		if c == nil || c.Properties == nil {
			continue
		}
		spec.Containers = append(spec.Containers, containerSpec(c, s, ext))
	}
	if p.IPAddress != nil {
		for _, port := range p.IPAddress.Ports {
			if port != nil {
				proto := "TCP"
				if port.Protocol != nil {
					proto = strings.ToUpper(string(*port.Protocol))
				}
				spec.Ports = append(spec.Ports, runtime.Port{Port: i32(port.Port), Protocol: proto})
			}
		}
	}
	if p.DNSConfig != nil {
		spec.DNS = &runtime.DNSConfig{NameServers: strs(p.DNSConfig.NameServers),
			SearchDomains: strings.Fields(str(p.DNSConfig.SearchDomains)),
			Options:       strings.Fields(str(p.DNSConfig.Options))}
	}
	for _, r := range p.ImageRegistryCredentials {
		if r != nil {
			spec.RegistryCredentials = append(spec.RegistryCredentials, runtime.RegistryCredential{
				Server: str(r.Server), Username: str(r.Username), Password: s.RegistryPasswords[str(r.Server)]})
		}
	}
	for _, v := range p.Volumes {
		if v == nil {
			continue
		}
		vol, err := volume(v, s)
		if err != nil {
			return runtime.GroupSpec{}, err
		}
		spec.Volumes = append(spec.Volumes, vol)
	}
	setVolumeFiles(&spec, ext)
	return spec, nil
}

func containerSpec(c *aci.Container, s *secretValues, ext wire.GroupExtensions) runtime.ContainerSpec {
	p := c.Properties
	probes := ext.Probes[str(c.Name)]
	cs := runtime.ContainerSpec{Name: str(c.Name), Image: str(p.Image), Command: strs(p.Command),
		Args: slices.Clone(ext.Args[str(c.Name)]), SecurityContext: securityContext(p.SecurityContext, ext.Security[str(c.Name)])}
	if r := p.Resources; r != nil {
		if r.Requests != nil {
			cs.CPU, cs.MemoryInGB = f64(r.Requests.CPU), f64(r.Requests.MemoryInGB)
			if r.Requests.Gpu != nil {
				cs.GPU = int(i32(r.Requests.Gpu.Count))
			}
		}
		if r.Limits != nil {
			cs.CPULimit, cs.MemoryLimitInGB = f64(r.Limits.CPU), f64(r.Limits.MemoryInGB)
		}
	}
	cs.Env = env(p.EnvironmentVariables, s.Env[cs.Name], ext.FieldEnv[cs.Name])
	cs.VolumeMounts = mounts(p.VolumeMounts)
	for _, port := range p.Ports {
		if port != nil {
			proto := "TCP"
			if port.Protocol != nil {
				proto = strings.ToUpper(string(*port.Protocol))
			}
			cs.Ports = append(cs.Ports, runtime.Port{Port: i32(port.Port), Protocol: proto})
		}
	}
	cs.LivenessProbe = probe(p.LivenessProbe, probes.Liveness, probes.LivenessGRPC)
	cs.ReadinessProbe = probe(p.ReadinessProbe, probes.Readiness, probes.ReadinessGRPC)
	if sp, ok := ext.StartupProbes[cs.Name]; ok {
		cs.StartupProbe = probe(validate.StartupProbe(sp), sp.TCPSocket, sp.GRPC)
	}
	setTermination(&cs, ext)
	cs.Lifecycle = lifecycle(ext.Lifecycle[cs.Name])
	return cs
}

// setTermination gives a (init) container where it writes its termination
// message, a vnode addition; without it the container has no such file.
func setTermination(cs *runtime.ContainerSpec, ext wire.GroupExtensions) {
	t := ext.TerminationMessages[cs.Name]
	cs.TerminationMessagePath, cs.TerminationMessagePolicy = t.Path, t.Policy
}

func volume(v *aci.Volume, s *secretValues) (runtime.Volume, error) {
	vol := runtime.Volume{Name: str(v.Name)}
	switch {
	case v.Secret != nil:
		vol.Secret = map[string][]byte{}
		for file, b64 := range s.SecretVolumes[vol.Name] {
			data, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return vol, fmt.Errorf("secret volume %s file %s: %w", vol.Name, file, err)
			}
			vol.Secret[file] = data
		}
	case v.AzureFile != nil:
		vol.AzureFile = &runtime.AzureFileVolume{ShareName: str(v.AzureFile.ShareName),
			StorageAccountName: str(v.AzureFile.StorageAccountName), StorageAccountKey: s.ShareKeys[vol.Name],
			ReadOnly: v.AzureFile.ReadOnly != nil && *v.AzureFile.ReadOnly}
	case v.GitRepo != nil:
		vol.GitRepo = &runtime.GitRepoVolume{Repository: str(v.GitRepo.Repository),
			Directory: str(v.GitRepo.Directory), Revision: str(v.GitRepo.Revision)}
	default:
		vol.EmptyDir = true
	}
	return vol, nil
}

// env converts a container's variables: secure ones take their value from
// secure, those in fields are filled by the runtime from the group.
func env(vars []*aci.EnvironmentVariable, secure map[string]string, fields []wire.FieldEnv) []runtime.EnvVar {
	var out []runtime.EnvVar
	for _, v := range vars {
		if v == nil || v.Name == nil {
			continue
		}
		if i := slices.IndexFunc(fields, func(f wire.FieldEnv) bool { return f.Name == *v.Name }); i >= 0 {
			out = append(out, runtime.EnvVar{Name: *v.Name, FromField: fields[i].FieldPath})
			continue
		}
		if val, ok := secure[*v.Name]; ok {
			out = append(out, runtime.EnvVar{Name: *v.Name, Value: val, Secure: true})
			continue
		}
		out = append(out, runtime.EnvVar{Name: *v.Name, Value: str(v.Value)})
	}
	return out
}

func hostAliases(in []wire.HostAlias) []runtime.HostAlias {
	var out []runtime.HostAlias
	for _, a := range in {
		out = append(out, runtime.HostAlias{IP: a.IP, Hostnames: slices.Clone(a.Hostnames)})
	}
	return out
}

func mounts(ms []*aci.VolumeMount) []runtime.VolumeMount {
	var out []runtime.VolumeMount
	for _, m := range ms {
		if m != nil {
			out = append(out, runtime.VolumeMount{Name: str(m.Name), MountPath: str(m.MountPath),
				ReadOnly: m.ReadOnly != nil && *m.ReadOnly})
		}
	}
	return out
}

// probe converts a probe; tcp and grpc are its tcpSocket or grpc action,
// vnode additions.
func probe(p *aci.ContainerProbe, tcp *wire.TCPSocket, grpc *wire.GRPC) *runtime.Probe {
	if p == nil {
		return nil
	}
	out := &runtime.Probe{InitialDelaySeconds: i32(p.InitialDelaySeconds), PeriodSeconds: i32(p.PeriodSeconds),
		FailureThreshold: i32(p.FailureThreshold), SuccessThreshold: i32(p.SuccessThreshold),
		TimeoutSeconds: i32(p.TimeoutSeconds)}
	if tcp != nil {
		out.TCPSocket = &runtime.TCPSocketProbe{Port: tcp.Port}
	}
	if grpc != nil {
		out.GRPC = &runtime.GRPCProbe{Port: grpc.Port, Service: grpc.Service}
	}
	if p.Exec != nil {
		out.Exec = strs(p.Exec.Command)
	}
	if h := p.HTTPGet; h != nil {
		out.HTTPGet = &runtime.HTTPGetProbe{Path: str(h.Path), Port: i32(h.Port), Scheme: "HTTP"}
		if h.Scheme != nil {
			out.HTTPGet.Scheme = strings.ToUpper(string(*h.Scheme))
		}
		for _, hd := range h.HTTPHeaders {
			if hd != nil && hd.Name != nil {
				if out.HTTPGet.Headers == nil {
					out.HTTPGet.Headers = map[string]string{}
				}
				out.HTTPGet.Headers[*hd.Name] = str(hd.Value)
			}
		}
	}
	return out
}

// securityContext is a (init) container's security context: ACI's, and
// what the service's security-context extension adds (ext).
func securityContext(sc *aci.SecurityContextDefinition, ext wire.ContainerSecurity) *runtime.SecurityContext {
	if sc == nil && ext == (wire.ContainerSecurity{}) {
		return nil
	}
	if sc == nil {
		sc = &aci.SecurityContextDefinition{}
	}
	out := &runtime.SecurityContext{Privileged: sc.Privileged, AllowPrivilegeEscalation: sc.AllowPrivilegeEscalation,
		SeccompProfile: str(sc.SeccompProfile), RunAsNonRoot: ext.RunAsNonRoot,
		ReadOnlyRootFilesystem: ext.ReadOnlyRootFilesystem, SeccompProfileType: ext.SeccompProfileType}
	if sc.RunAsUser != nil {
		u := int64(*sc.RunAsUser)
		out.RunAsUser = &u
	}
	if sc.RunAsGroup != nil {
		g := int64(*sc.RunAsGroup)
		out.RunAsGroup = &g
	}
	if sc.Capabilities != nil {
		out.CapabilitiesAdd = capabilityNames(sc.Capabilities.Add)
		out.CapabilitiesDrop = capabilityNames(sc.Capabilities.Drop)
	}
	return out
}

// capabilityNames spells capabilities as the runtime takes them: upper
// case, without "CAP_".
func capabilityNames(ps []*string) []string {
	out := strs(ps)
	for i, n := range out {
		out[i] = config.CapabilityName(n)
	}
	return out
}

func strs(ps []*string) []string {
	var out []string
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}
