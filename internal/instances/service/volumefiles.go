package service

import (
	"maps"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// setVolumeFiles carries the volume-files and subpath-mounts additions
// into a runtime spec: the modes of secret volumes' files, the medium and
// size limit of emptyDir volumes, the group's fsGroup and the subPaths of
// its containers' mounts. Validation has checked them.
func setVolumeFiles(spec *runtime.GroupSpec, ext wire.GroupExtensions) {
	for i, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			spec.Volumes[i].FileModes = fileModes(ext.FileModes[v.Name])
		case v.EmptyDir:
			d := ext.EmptyDirs[v.Name]
			spec.Volumes[i].Medium, spec.Volumes[i].SizeLimit = d.Medium, d.SizeLimit
		}
	}
	if ext.FSGroup != nil {
		g := *ext.FSGroup
		spec.FSGroup = &g
	}
	spec.FSGroupChangePolicy = ext.FSGroupChangePolicy
	for _, cs := range [][]runtime.ContainerSpec{spec.InitContainers, spec.Containers} {
		for i := range cs {
			sub := ext.SubPaths[cs[i].Name]
			for j, m := range cs[i].VolumeMounts {
				cs[i].VolumeMounts[j].SubPath = sub[m.MountPath]
			}
		}
	}
}

// fileModes converts validated file modes (0–0777) for the runtime.
func fileModes(modes map[string]int32) map[string]uint32 {
	if len(modes) == 0 {
		return nil
	}
	out := make(map[string]uint32, len(modes))
	for name, m := range modes {
		out[name] = uint32(m) // #nosec G115 -- validated to be within 0–0777
	}
	return out
}

// refreshedModes returns a copy of ext in which each volume of a refresh
// has the file modes the refresh gave it (none: all 0644).
func refreshedModes(ext wire.GroupExtensions, volumes []*aci.Volume, modes map[string]map[string]int32) wire.GroupExtensions {
	out := ext
	out.FileModes = maps.Clone(ext.FileModes)
	for _, v := range volumes {
		name := str(v.Name)
		if m := modes[name]; len(m) > 0 {
			if out.FileModes == nil {
				out.FileModes = map[string]map[string]int32{}
			}
			out.FileModes[name] = maps.Clone(m)
		} else {
			delete(out.FileModes, name)
		}
	}
	if len(out.FileModes) == 0 {
		out.FileModes = nil
	}
	return out
}
