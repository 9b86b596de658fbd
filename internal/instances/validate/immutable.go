package validate

import (
	"fmt"
	"slices"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// ImmutableChange reports the first change from old to updated that ACI
// cannot apply in place: the OS type, the restart policy, any container's
// CPU, memory or GPU requests or limits (adding or removing a container
// changes them too), the IP address type or ports, or the subnets. Both
// groups should have passed ContainerGroup; nil when the update may proceed
// or either group has no properties. The caller skips this check for a group
// that is stopped or has terminated, which ACI deploys anew.
//
// ACI's code InvalidContainerGroupUpdate and the gist of its message ("The
// updates on container group '…' are invalid. If you are going to update the
// os type, restart policy, network profile, CPU, memory or GPU resources for
// a container group, you must delete it first and then create a new one.")
// are taken from answers quoted in public reports. The HTTP status could not
// be verified; the error is an errdefs.Conflict, which ARM answers with 409.
//
// The DNS name label is not immutable: ACI's documentation updates it in
// place as its example of an update.
func ImmutableChange(old, updated *aci.ContainerGroup) *errdefs.Error {
	if old == nil || updated == nil || old.Properties == nil || updated.Properties == nil {
		return nil
	}
	o, u := old.Properties, updated.Properties
	group := str(updated.Name)
	if group == "" {
		group = str(old.Name)
	}
	return first(
		func() *errdefs.Error {
			return changed(group, "properties.osType", "the OS type", osType(o.OSType), osType(u.OSType))
		},
		func() *errdefs.Error {
			return changed(group, "properties.restartPolicy", "the restart policy",
				restartPolicy(o.RestartPolicy), restartPolicy(u.RestartPolicy))
		},
		func() *errdefs.Error { return containersChanged(group, o.Containers, u.Containers) },
		func() *errdefs.Error {
			return changed(group, "properties.ipAddress.type", "the IP address type", ipType(o.IPAddress), ipType(u.IPAddress))
		},
		func() *errdefs.Error {
			return changed(group, "properties.ipAddress.ports", "the IP address ports", ipPorts(o.IPAddress), ipPorts(u.IPAddress))
		},
		func() *errdefs.Error {
			return changed(group, "properties.subnetIds", "the subnets", subnets(o.SubnetIDs), subnets(u.SubnetIDs))
		},
	)
}

// refuse answers an update that would make the change what describes.
func refuse(group, target, what string) *errdefs.Error {
	e := errdefs.New(errdefs.Conflict, CodeInvalidContainerGroupUpdate,
		"The updates on container group '%s' are invalid: %s. The OS type, restart policy, network (IP address type "+
			"and ports, subnets) and the CPU, memory and GPU resources of a container group cannot be updated in place; "+
			"delete the container group and create it again with the new settings.", group, what)
	e.Target = target
	return e
}

// changed refuses the update when the (normalised) values differ.
func changed(group, target, what, from, to string) *errdefs.Error {
	if from == to {
		return nil
	}
	return refuse(group, target, fmt.Sprintf("%s would change from %s to %s", what, from, to))
}

// containersChanged compares the resources of containers by name.
func containersChanged(group string, old, updated []*aci.Container) *errdefs.Error {
	before := map[string]*aci.Container{}
	for _, ct := range old {
		if ct != nil {
			before[str(ct.Name)] = ct
		}
	}
	after := map[string]bool{}
	for i, ct := range updated {
		if ct == nil {
			continue
		}
		name := str(ct.Name)
		after[name] = true
		at := fmt.Sprintf("properties.containers[%d]", i)
		prev, ok := before[name]
		if !ok {
			return refuse(group, at, fmt.Sprintf("container '%s' would be added, changing the group's resources", name))
		}
		if err := resourcesChanged(group, name, at+".properties.resources", prev, ct); err != nil {
			return err
		}
	}
	for _, ct := range old {
		if ct != nil && !after[str(ct.Name)] {
			return refuse(group, "properties.containers",
				fmt.Sprintf("container '%s' would be removed, changing the group's resources", str(ct.Name)))
		}
	}
	return nil
}

// resourceFields renders the immutable resource fields of a container by
// their path under resources.
func resourceFields(ct *aci.Container) map[string]string {
	var r aci.ResourceRequirements
	if ct.Properties != nil && ct.Properties.Resources != nil {
		r = *ct.Properties.Resources
	}
	rq, l := r.Requests, r.Limits
	if rq == nil {
		rq = &aci.ResourceRequests{}
	}
	if l == nil {
		l = &aci.ResourceLimits{}
	}
	return map[string]string{
		"requests.cpu": optAmount(rq.CPU), "requests.memoryInGB": optAmount(rq.MemoryInGB), "requests.gpu": gpu(rq.Gpu),
		"limits.cpu": optAmount(l.CPU), "limits.memoryInGB": optAmount(l.MemoryInGB), "limits.gpu": gpu(l.Gpu),
	}
}

// resourceOrder is the order in which resource fields are compared.
var resourceOrder = []string{"requests.cpu", "requests.memoryInGB", "requests.gpu", "limits.cpu", "limits.memoryInGB", "limits.gpu"}

func resourcesChanged(group, name, at string, old, updated *aci.Container) *errdefs.Error {
	before, after := resourceFields(old), resourceFields(updated)
	for _, f := range resourceOrder {
		if before[f] != after[f] {
			return refuse(group, at+"."+f,
				fmt.Sprintf("resources.%s of container '%s' would change from %s to %s", f, name, before[f], after[f]))
		}
	}
	return nil
}

func optAmount(v *float64) string {
	if v == nil {
		return "unset"
	}
	return amount(*v)
}

func gpu(g *aci.GpuResource) string {
	if g == nil {
		return "unset"
	}
	return fmt.Sprintf("%d %s", gpuCount(g), strings.ToUpper(gpuSKU(g)))
}

func osType(os *aci.OperatingSystemTypes) string {
	if os == nil {
		return "'unset'"
	}
	return "'" + canonical(string(*os), "Linux", "Windows") + "'"
}

func restartPolicy(rp *aci.ContainerGroupRestartPolicy) string {
	if rp == nil {
		return "'Always'"
	}
	return "'" + canonical(string(*rp), "Always", "OnFailure", "Never") + "'"
}

func ipType(ip *aci.IPAddress) string {
	if ip == nil || ip.Type == nil {
		return "none"
	}
	return "'" + canonical(string(*ip.Type), "Public", "Private") + "'"
}

// ipPorts renders the IP address ports as a sorted list.
func ipPorts(ip *aci.IPAddress) string {
	var ports []string
	if ip != nil {
		for _, p := range ip.Ports {
			if p != nil && p.Port != nil {
				proto, _ := protocol((*string)(p.Protocol))
				ports = append(ports, portKey{*p.Port, proto}.String())
			}
		}
	}
	slices.Sort(ports)
	return "[" + strings.Join(ports, " ") + "]"
}

// subnets renders the subnet ids (case-insensitive, as ARM ids are) as a
// sorted list.
func subnets(ids []*aci.ContainerGroupSubnetID) string {
	var s []string
	for _, id := range ids {
		if id != nil {
			s = append(s, strings.ToLower(str(id.ID)))
		}
	}
	slices.Sort(s)
	return "[" + strings.Join(s, " ") + "]"
}

// canonical returns the value of known that v equals ignoring case, else v.
func canonical(v string, known ...string) string {
	for _, k := range known {
		if strings.EqualFold(v, k) {
			return k
		}
	}
	return v
}
