package validate

import (
	"fmt"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// SecretRefresh checks the volumes of a refreshVolumes request (vnode's
// action that replaces the files of a group's secret volumes in place)
// against the group: each must name one of the group's secret volumes,
// once, and carry only a secret whose files are valid as ContainerGroup
// checks them. Targets are JSON paths in the request ("volumes[1].secret").
func SecretRefresh(group *aci.ContainerGroup, vols []*aci.Volume) *errdefs.Error {
	if len(vols) == 0 {
		return errdefs.InvalidField(CodeInvalidVolume, "volumes",
			"The request names no volume. Send {\"volumes\": [...]} with the secret volumes to refresh and their files.")
	}
	secret := secretVolumes(group)
	seen := map[string]bool{}
	for i, v := range vols {
		at := fmt.Sprintf("volumes[%d]", i)
		if err := checkRefreshed(v, secret, at); err != nil {
			return err
		}
		name := str(v.Name)
		if seen[name] {
			return errdefs.InvalidField(CodeDuplicateVolumeName, at+".name",
				"The volume '%s' is named more than once. Name each volume to refresh once.", name)
		}
		seen[name] = true
	}
	return nil
}

// secretVolumes names the group's secret volumes.
func secretVolumes(group *aci.ContainerGroup) map[string]bool {
	out := map[string]bool{}
	if group == nil || group.Properties == nil {
		return out
	}
	for _, v := range group.Properties.Volumes {
		if v != nil && v.Secret != nil {
			out[str(v.Name)] = true
		}
	}
	return out
}

// checkRefreshed checks one volume of a refresh request.
func checkRefreshed(v *aci.Volume, secret map[string]bool, at string) *errdefs.Error {
	if v == nil {
		return errdefs.InvalidField(CodeInvalidVolume, at, "The volume is null. Send the secret volume with its name and files.")
	}
	name := str(v.Name)
	if !secret[name] {
		return errdefs.InvalidField(CodeInvalidVolume, at,
			"The container group has no secret volume named '%s'. Only the group's secret volumes can be refreshed.", name)
	}
	sources := volumeSources(v)
	if v.Secret == nil {
		return errdefs.InvalidField(CodeInvalidVolume, at+".secret",
			"The volume '%s' has no secret. Set secret to the volume's files (file name to base64 content).", name)
	}
	if len(sources) != 1 {
		return errdefs.InvalidField(CodeInvalidVolume, at,
			"The volume '%s' has a source other than secret. A refresh replaces only the files of a secret volume.", name)
	}
	return checkSecret(v.Secret, name, at+".secret")
}
