package aci

import (
	"fmt"
	"slices"
	"strings"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// groupSpec is a pod's container group: the body to PUT, vnode's additions
// to it, and warnings about what was left out.
type groupSpec struct {
	name     string
	group    aci.ContainerGroup
	ext      wire.GroupExtensions
	warnings []string
}

// convertOptions are what a conversion needs besides the workload.
type convertOptions struct {
	location  string
	node      string
	subnetIDs []string
	dns       DNS
	limits    Limits
	// tcpSocket is set when the service runs tcpSocket probes; hosts
	// when it sets hostnames and /etc/hosts; fieldEnv when it fills
	// variables with the group's IP; containerArgs when it takes args
	// apart from the command.
	tcpSocket, hosts, fieldEnv, containerArgs bool
	// termination is set when the service mounts termination message files.
	termination bool
	// volumeFiles is set when the service takes file modes, emptyDir media
	// and fsGroup; subPath when it mounts subPaths; nestedFiles when a
	// secret volume's file names may be nested paths.
	volumeFiles, subPath, nestedFiles bool
	// lifecycle is set when the service runs postStart and preStop hooks.
	lifecycle bool
	// envNames is set when the service takes Kubernetes' environment
	// variable names; else names that ACI refuses fail the pod.
	envNames bool
	// entrypoints are, by container name, the image entrypoints of the
	// containers that set args without a command, read from their
	// registries when the service lacks containerArgs (Azure).
	entrypoints map[string][]string
	// security is set when the service takes the security-context
	// extension; else imageUsers are, by container name, the users of
	// the images of the containers that must not run as root and set no
	// user, read from their registries (Azure).
	security   bool
	imageUsers map[string]string
	now        time.Time
	// startupProbe is set when the service runs startup probes, grpcProbe
	// when it runs grpc probe actions.
	startupProbe, grpcProbe bool
}

// convert builds a pod's container group. Its errors are final: the pod
// cannot run on container instances as written.
func convert(w *backend.Workload, o convertOptions) (*groupSpec, error) {
	pod := w.Pod
	if pod.Spec.HostNetwork {
		return nil, fmt.Errorf("hostNetwork pods cannot run on container instances")
	}
	if !o.envNames {
		if err := checkACIEnvNames(w); err != nil {
			return nil, err
		}
	}
	vols, err := convertVolumes(w, o.nestedFiles)
	if err != nil {
		return nil, err
	}
	s := &groupSpec{name: GroupName(pod.Namespace, pod.Name)}
	props := &aci.ContainerGroupPropertiesProperties{
		OSType:        ptr(aci.OperatingSystemTypesLinux),
		RestartPolicy: ptr(restartPolicy(pod.Spec.RestartPolicy)),
		Volumes:       vols.volumes,
		DNSConfig:     dnsConfig(pod, o.dns),
	}
	s.setHosts(pod, o)
	s.setTerminationMessages(pod, o.termination)
	if err := s.setPodSecurity(pod, o); err != nil {
		return nil, err
	}
	if err := s.setVolumeFiles(pod, &vols, o.volumeFiles); err != nil {
		return nil, err
	}
	if err := s.setLifecycle(pod, o.lifecycle); err != nil {
		return nil, err
	}
	for _, c := range pod.Spec.InitContainers {
		ic, err := s.initContainer(c, w, &vols, o)
		if err != nil {
			return nil, err
		}
		props.InitContainers = append(props.InitContainers, ic)
	}
	for _, c := range pod.Spec.Containers {
		ct, err := s.container(c, w, &vols, o)
		if err != nil {
			return nil, err
		}
		props.Containers = append(props.Containers, ct)
	}
	if err := setResources(props.Containers, pod.Spec.Containers, o.limits, o.location); err != nil {
		return nil, err
	}
	ip, err := ipAddress(pod.Spec.Containers)
	if err != nil {
		return nil, err
	}
	props.IPAddress = ip
	for _, id := range o.subnetIDs {
		props.SubnetIDs = append(props.SubnetIDs, &aci.ContainerGroupSubnetID{ID: ptr(id)})
	}
	for _, rc := range w.RegistryCredentials {
		props.ImageRegistryCredentials = append(props.ImageRegistryCredentials, &aci.ImageRegistryCredential{
			Server: ptr(rc.Server), Username: ptr(rc.Username), Password: ptr(rc.Password)})
	}
	s.group = aci.ContainerGroup{
		Location:   ptr(o.location),
		Tags:       podTags(pod.Namespace, pod.Name, pod.UID, o.node, pod.CreationTimestamp.Time, o.now),
		Properties: props,
	}
	return s, nil
}

func restartPolicy(p corev1.RestartPolicy) aci.ContainerGroupRestartPolicy {
	switch p {
	case corev1.RestartPolicyNever:
		return aci.ContainerGroupRestartPolicyNever
	case corev1.RestartPolicyOnFailure:
		return aci.ContainerGroupRestartPolicyOnFailure
	default:
		return aci.ContainerGroupRestartPolicyAlways
	}
}

// container converts one of the pod's containers.
func (s *groupSpec) container(c corev1.Container, w *backend.Workload, vols *volumeSet, o convertOptions) (*aci.Container, error) {
	cmd, err := s.command(c, w.Env[c.Name], o)
	if err != nil {
		return nil, err
	}
	mounts, subPaths, err := vols.mounts(c, w.Env[c.Name], o.subPath)
	if err != nil {
		return nil, err
	}
	sc, err := s.securityContext(w.Pod, &c, o)
	if err != nil {
		return nil, err
	}
	s.addSubPaths(c.Name, subPaths)
	props := &aci.ContainerProperties{
		Image:                ptr(c.Image),
		Command:              cmd,
		EnvironmentVariables: s.envVars(c.Name, w.Env[c.Name], o.fieldEnv),
		VolumeMounts:         mounts,
		SecurityContext:      sc,
	}
	for _, p := range c.Ports {
		proto, err := portProtocol(p.Protocol)
		if err != nil {
			return nil, fmt.Errorf("container %q port %d: %w", c.Name, p.ContainerPort, err)
		}
		props.Ports = append(props.Ports, &aci.ContainerPort{Port: ptr(p.ContainerPort), Protocol: ptr(aci.ContainerNetworkProtocol(proto))})
	}
	var ext wire.Probes
	for _, pr := range []struct {
		kind  string
		probe *corev1.Probe
		dst   **aci.ContainerProbe
		tcp   **wire.TCPSocket
		grpc  **wire.GRPC
	}{{"liveness", c.LivenessProbe, &props.LivenessProbe, &ext.Liveness, &ext.LivenessGRPC},
		{"readiness", c.ReadinessProbe, &props.ReadinessProbe, &ext.Readiness, &ext.ReadinessGRPC}} {
		res, err := convertProbe(pr.probe, c, pr.kind, o)
		if err != nil {
			return nil, err
		}
		*pr.dst, *pr.tcp, *pr.grpc = res.probe, res.tcp, res.grpc
		if res.warning != "" {
			s.warnings = append(s.warnings, res.warning)
		}
	}
	if ext != (wire.Probes{}) {
		if s.ext.Probes == nil {
			s.ext.Probes = map[string]wire.Probes{}
		}
		s.ext.Probes[c.Name] = ext
	}
	if err := s.startupProbe(c, props, o); err != nil {
		return nil, err
	}
	return &aci.Container{Name: ptr(c.Name), Properties: props}, nil
}

// initContainer converts one of the pod's init containers.
func (s *groupSpec) initContainer(c corev1.Container, w *backend.Workload, vols *volumeSet, o convertOptions) (*aci.InitContainerDefinition, error) {
	cmd, err := s.command(c, w.Env[c.Name], o)
	if err != nil {
		return nil, err
	}
	mounts, subPaths, err := vols.mounts(c, w.Env[c.Name], o.subPath)
	if err != nil {
		return nil, err
	}
	sc, err := s.securityContext(w.Pod, &c, o)
	if err != nil {
		return nil, err
	}
	s.addSubPaths(c.Name, subPaths)
	return &aci.InitContainerDefinition{Name: ptr(c.Name), Properties: &aci.InitContainerPropertiesDefinition{
		Image: ptr(c.Image), Command: cmd, EnvironmentVariables: s.envVars(c.Name, w.Env[c.Name], o.fieldEnv), VolumeMounts: mounts,
		SecurityContext: sc}}, nil
}

// command converts a container's command and args, with $(VAR) references
// expanded, so that the container runs what a kubelet would run: the
// command (else the image's entrypoint) followed by the args (else, when
// neither is set, the image's arguments). The service's container-args
// extension keeps them apart, ACI's command replacing the entrypoint and
// the args in the group's additions. Without it (Azure), ACI's one
// command replaces the image's entrypoint and arguments together: args
// without a command follow the entrypoint read from the image's registry
// (o.entrypoints), and args alone run when the image has none.
func (s *groupSpec) command(c corev1.Container, env []backend.EnvVar, o convertOptions) ([]*string, error) {
	vars := make(map[string]string, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	expand := func(list []string) []string {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, expandVars(a, vars))
		}
		return out
	}
	var argv []string
	switch {
	case o.containerArgs:
		if len(c.Args) > 0 {
			if s.ext.Args == nil {
				s.ext.Args = map[string][]string{}
			}
			s.ext.Args[c.Name] = expand(c.Args)
		}
		argv = expand(c.Command)
	case len(c.Command) > 0:
		argv = append(expand(c.Command), expand(c.Args)...)
	case len(c.Args) > 0:
		entrypoint, ok := o.entrypoints[c.Name]
		if !ok {
			return nil, fmt.Errorf("container %q sets args without a command, and the entrypoint of its image %q is not known",
				c.Name, c.Image)
		}
		// The image's own entrypoint is not expanded, as a runtime runs it.
		argv = append(slices.Clone(entrypoint), expand(c.Args)...)
	}
	var out []*string
	for _, a := range argv {
		out = append(out, ptr(a))
	}
	return out, nil
}

// envVars converts a container's resolved environment; values from Secrets
// become secure values, which ACI never returns. Variables of the pod's IP
// are left for the service to fill when it can (fieldEnv); else they keep
// the value the agent resolved (the pod's IP when it was known).
func (s *groupSpec) envVars(container string, env []backend.EnvVar, fieldEnv bool) []*aci.EnvironmentVariable {
	var out []*aci.EnvironmentVariable
	for _, e := range env {
		v := &aci.EnvironmentVariable{Name: ptr(e.Name)}
		if e.FieldPath != "" && fieldEnv {
			if s.ext.FieldEnv == nil {
				s.ext.FieldEnv = map[string][]wire.FieldEnv{}
			}
			s.ext.FieldEnv[container] = append(s.ext.FieldEnv[container], wire.FieldEnv{Name: e.Name, FieldPath: e.FieldPath})
			out = append(out, v)
			continue
		}
		if e.Secret {
			v.SecureValue = ptr(e.Value)
		} else {
			v.Value = ptr(e.Value)
		}
		out = append(out, v)
	}
	return out
}

func portProtocol(p corev1.Protocol) (string, error) {
	switch p {
	case corev1.ProtocolTCP, "":
		return "TCP", nil
	case corev1.ProtocolUDP:
		return "UDP", nil
	default:
		return "", fmt.Errorf("protocol %s is not supported by container instances (TCP and UDP are)", p)
	}
}

// ipAddress gives the group a private IP exposing every container port.
// ACI refuses an IP address without ports: a pod that declares none gets
// no ipAddress section.
func ipAddress(cs []corev1.Container) (*aci.IPAddress, error) {
	seen := map[string]bool{}
	var ports []*aci.Port
	for _, c := range cs {
		for _, p := range c.Ports {
			proto, err := portProtocol(p.Protocol)
			if err != nil {
				return nil, err
			}
			key := fmt.Sprintf("%d/%s", p.ContainerPort, proto)
			if seen[key] {
				continue
			}
			seen[key] = true
			ports = append(ports, &aci.Port{Port: ptr(p.ContainerPort), Protocol: ptr(aci.ContainerGroupNetworkProtocol(strings.ToUpper(proto)))})
		}
	}
	if len(ports) == 0 {
		return nil, nil
	}
	return &aci.IPAddress{Type: ptr(aci.ContainerGroupIPAddressTypePrivate), Ports: ports}, nil
}
