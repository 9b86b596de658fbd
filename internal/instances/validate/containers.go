package validate

import (
	"fmt"
	"path"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// containers checks the group's containers.
func (c *checker) containers(cs []*aci.Container) *errdefs.Error {
	const target = "properties.containers"
	if len(cs) == 0 {
		return errdefs.InvalidField(CodeMissingContainers, target,
			"The container group has no containers. Add at least one container to properties.containers.")
	}
	if limit := c.lim.ContainersPerGroup; limit > 0 && len(cs) > limit {
		return errdefs.InvalidField(CodeTooManyContainers, target,
			"The container group has %d containers; at most %d are allowed. Remove containers.", len(cs), limit)
	}
	for i, ct := range cs {
		if err := c.container(fmt.Sprintf("%s[%d]", target, i), ct); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) container(at string, ct *aci.Container) *errdefs.Error {
	if ct == nil {
		ct = &aci.Container{}
	}
	p := ct.Properties
	if p == nil {
		p = &aci.ContainerProperties{}
	}
	name := str(ct.Name)
	pat := at + ".properties"
	return first(
		func() *errdefs.Error { return c.containerName(name, at, "container") },
		func() *errdefs.Error { return checkImage(p.Image, name, pat) },
		func() *errdefs.Error { return argv(strs(p.Command), c.ext.Args[name], name, pat) },
		func() *errdefs.Error { return checkResources(p.Resources, name, pat+".resources") },
		func() *errdefs.Error { return checkContainerPorts(p.Ports, name, pat+".ports") },
		func() *errdefs.Error { return c.env(p.EnvironmentVariables, name, pat+".environmentVariables") },
		func() *errdefs.Error { return c.mounts(p.VolumeMounts, name, pat+".volumeMounts") },
		func() *errdefs.Error { return c.securityContext(p.SecurityContext, name, pat+".securityContext") },
		func() *errdefs.Error { return c.containerSecurity(p.SecurityContext, name, pat+".securityContext") },
		func() *errdefs.Error { return c.terminationMessage(p.VolumeMounts, name, pat) },
		func() *errdefs.Error { return c.lifecycle(name, pat) },
		func() *errdefs.Error {
			pr := c.ext.Probes[name]
			return checkProbe(p.LivenessProbe, pr.Liveness, pr.LivenessGRPC, "liveness", name, pat+".livenessProbe")
		},
		func() *errdefs.Error {
			pr := c.ext.Probes[name]
			return checkProbe(p.ReadinessProbe, pr.Readiness, pr.ReadinessGRPC, "readiness", name, pat+".readinessProbe")
		},
		func() *errdefs.Error {
			sp, ok := c.ext.StartupProbes[name]
			if !ok {
				return nil
			}
			return checkProbe(StartupProbe(sp), sp.TCPSocket, sp.GRPC, "startup", name, pat+".startupProbe")
		},
	)
}

// initContainers checks the group's init containers, which have no
// resources, ports or probes of their own.
func (c *checker) initContainers(ics []*aci.InitContainerDefinition) *errdefs.Error {
	for i, ic := range ics {
		at := fmt.Sprintf("properties.initContainers[%d]", i)
		if ic == nil {
			ic = &aci.InitContainerDefinition{}
		}
		p := ic.Properties
		if p == nil {
			p = &aci.InitContainerPropertiesDefinition{}
		}
		name := str(ic.Name)
		pat := at + ".properties"
		err := first(
			func() *errdefs.Error { return c.containerName(name, at, "init container") },
			func() *errdefs.Error { return checkImage(p.Image, name, pat) },
			func() *errdefs.Error { return argv(strs(p.Command), c.ext.Args[name], name, pat) },
			func() *errdefs.Error { return c.env(p.EnvironmentVariables, name, pat+".environmentVariables") },
			func() *errdefs.Error { return c.mounts(p.VolumeMounts, name, pat+".volumeMounts") },
			func() *errdefs.Error { return c.securityContext(p.SecurityContext, name, pat+".securityContext") },
			func() *errdefs.Error { return c.containerSecurity(p.SecurityContext, name, pat+".securityContext") },
			func() *errdefs.Error { return c.terminationMessage(p.VolumeMounts, name, pat) },
		)
		if err != nil {
			return err
		}
	}
	return nil
}

// containerName checks a (init) container name and that no other container
// or init container of the group has it.
func (c *checker) containerName(name, at, kind string) *errdefs.Error {
	if p := containerNameProblem(name); p != "" {
		return errdefs.InvalidField(CodeInvalidContainerName, at+".name",
			"The %s name '%s' is invalid: it %s. A container name has 1 to 63 lowercase letters, digits and '-' "+
				"and does not start or end with '-' (e.g. 'my-name').", kind, name, p)
	}
	if c.names[name] {
		return errdefs.InvalidField(CodeDuplicateContainerName, at+".name",
			"The %s name '%s' is used more than once. Containers and init containers of a group need distinct names.",
			kind, name)
	}
	c.names[name] = true
	return nil
}

func checkImage(image *string, name, at string) *errdefs.Error {
	if strings.TrimSpace(str(image)) == "" {
		return errdefs.InvalidField(CodeMissingContainerImage, at+".image",
			"The container '%s' has no image. Set properties.image to the image to run (e.g. 'nginx:latest').", name)
	}
	return nil
}

// env checks a (init) container's environment variables, those filled
// from the group (vnode's valueFrom.fieldRef) included.
func (c *checker) env(vars []*aci.EnvironmentVariable, name, at string) *errdefs.Error {
	fields := map[string]string{}
	for _, f := range c.ext.FieldEnv[name] {
		fields[f.Name] = f.FieldPath
	}
	seen := map[string]bool{}
	for i, v := range vars {
		if v == nil {
			v = &aci.EnvironmentVariable{}
		}
		if err := checkEnvVar(v, seen, name, fmt.Sprintf("%s[%d]", at, i)); err != nil {
			return err
		}
		seen[str(v.Name)] = true
	}
	// Names are unique now: each names one variable.
	for i, v := range vars {
		if v == nil {
			continue
		}
		if path, ok := fields[str(v.Name)]; ok {
			if err := checkFieldEnv(v, path, name, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkEnvVar checks one variable's name and value; a variable with
// neither value nor secureValue is set to "" (or filled from the group).
func checkEnvVar(v *aci.EnvironmentVariable, seen map[string]bool, name, at string) *errdefs.Error {
	n := str(v.Name)
	if p := envNameProblem(n); p != "" {
		return errdefs.InvalidField(CodeInvalidContainerEnvironmentVariable, at+".name",
			"The environment variable name %s in container '%s' is invalid: it %s. A valid environment variable name is %s.",
			shownEnvName(n), name, p, envNameRule)
	}
	switch {
	case seen[n]:
		return errdefs.InvalidField(CodeDuplicateEnvironmentVariable, at+".name",
			"The environment variable %s is set more than once in container '%s'. Set each variable once.", shownEnvName(n), name)
	case v.Value != nil && v.SecureValue != nil:
		return errdefs.InvalidField(CodeInvalidContainerEnvironmentVariable, at,
			"The environment variable %s in container '%s' has both value and secureValue. Set only one of them.",
			shownEnvName(n), name)
	case strings.ContainsRune(str(v.Value), 0) || strings.ContainsRune(str(v.SecureValue), 0):
		return errdefs.InvalidField(CodeInvalidContainerEnvironmentVariable, at,
			"The value of environment variable %s in container '%s' contains a NUL byte, which no process environment can hold.",
			shownEnvName(n), name)
	}
	return nil
}

// checkFieldEnv checks a variable filled from the group's field path.
func checkFieldEnv(v *aci.EnvironmentVariable, path, name, at string) *errdefs.Error {
	n := shownEnvName(str(v.Name))
	if v.Value != nil || v.SecureValue != nil {
		return errdefs.InvalidField(CodeInvalidContainerEnvironmentVariable, at+".valueFrom",
			"The environment variable %s in container '%s' has valueFrom and a value. Set only one of them.", n, name)
	}
	if path != wire.FieldPodIP && path != wire.FieldPodIPs {
		return errdefs.InvalidField(CodeInvalidContainerEnvironmentVariable, at+".valueFrom.fieldRef.fieldPath",
			"The environment variable %s in container '%s' takes its value from the field '%s', which is not supported. "+
				"Use '%s' or '%s' (the container group's IP address).", n, name, path, wire.FieldPodIP, wire.FieldPodIPs)
	}
	return nil
}

// mounts checks a (init) container's volume mounts: each names a volume of
// the group and has its own absolute mount path.
func (c *checker) mounts(ms []*aci.VolumeMount, name, at string) *errdefs.Error {
	paths := map[string]bool{}
	for i, m := range ms {
		mat := fmt.Sprintf("%s[%d]", at, i)
		if m == nil {
			m = &aci.VolumeMount{}
		}
		if err := c.mountVolume(str(m.Name), name, mat); err != nil {
			return err
		}
		mp := str(m.MountPath)
		if err := checkMountPath(mp, name, mat); err != nil {
			return err
		}
		clean := path.Clean(mp)
		if paths[clean] {
			return errdefs.InvalidField(CodeDuplicateVolumeMountPath, mat+".mountPath",
				"The container '%s' mounts more than one volume at '%s'. Give each volume mount its own mountPath.",
				name, mp)
		}
		paths[clean] = true
	}
	return nil
}

func (c *checker) mountVolume(volume, name, at string) *errdefs.Error {
	if volume == "" {
		return errdefs.InvalidField(CodeInvalidVolumeMount, at+".name",
			"A volume mount of container '%s' has no name. Set it to the name of a volume in properties.volumes.", name)
	}
	if !c.volumeNames[volume] {
		return errdefs.InvalidField(CodeInvalidVolumeMount, at+".name",
			"The container '%s' mounts volume '%s', which is not defined in properties.volumes. "+
				"Add the volume or correct the name.", name, volume)
	}
	return nil
}

func checkMountPath(mp, name, at string) *errdefs.Error {
	var problem string
	switch {
	case mp == "":
		problem = "is empty"
	case !strings.HasPrefix(mp, "/"):
		problem = "is not an absolute path"
	case path.Clean(mp) == "/":
		problem = "is the root directory"
	case strings.Contains(mp, ":"):
		problem = "contains ':'"
	default:
		return nil
	}
	return errdefs.InvalidField(CodeInvalidVolumeMountPath, at+".mountPath",
		"The mountPath '%s' of container '%s' %s. Use an absolute directory path such as '/mnt/data'.", mp, name, problem)
}
