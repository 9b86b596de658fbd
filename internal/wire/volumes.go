// This file reads and writes the additions of the volume-files and
// subpath-mounts extensions, each where Kubernetes would put it:
//
//   - the mode of each file of a secret volume, beside its files (ACI's
//     secret volumes hold file names and contents only):
//     {"name": "config", "secret": {...}, "fileModes": {"run.sh": 493}}
//   - the medium and size limit of an emptyDir volume, in its emptyDir
//     (ACI's is an empty object): "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}
//   - the group's fsGroup and fsGroupChangePolicy, in a securityContext of
//     the group's properties, as in a pod's spec:
//     "securityContext": {"fsGroup": 2000, "fsGroupChangePolicy": "OnRootMismatch"}
//   - the subPath of a (init) container's volume mount, in the mount:
//     {"name": "config", "mountPath": "/etc/app/config.yaml", "subPath": "config.yaml"}
//
// The body of the refreshVolumes action carries fileModes in its volumes
// the same way (ParseRefreshModes, ApplyRefreshModes).

package wire

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MediumMemory is the emptyDir medium of a volume on a tmpfs, as Kubernetes
// names it; the empty medium is the service's disk.
const MediumMemory = "Memory"

// The fsGroup change policies, as Kubernetes names them: Always (when
// empty) changes the ownership of every file of a volume, OnRootMismatch
// only when the volume's root does not already have it.
const (
	FSGroupChangeAlways         = "Always"
	FSGroupChangeOnRootMismatch = "OnRootMismatch"
)

// EmptyDir is how an emptyDir volume is backed.
type EmptyDir struct {
	// Medium is "" (disk) or MediumMemory.
	Medium string
	// SizeLimit, when positive, bounds the volume in bytes.
	SizeLimit int64
}

// volumesZero reports whether e holds no volume addition.
func (e GroupExtensions) volumesZero() bool {
	return len(e.FileModes) == 0 && len(e.EmptyDirs) == 0 && e.FSGroup == nil && e.FSGroupChangePolicy == "" &&
		len(e.SubPaths) == 0
}

// emptyDirJSON is an emptyDir volume's additions.
type emptyDirJSON struct {
	Medium    string             `json:"medium"`
	SizeLimit *resource.Quantity `json:"sizeLimit"`
}

// volumeJSON is where a volume carries additions.
type volumeJSON struct {
	Name      string           `json:"name"`
	FileModes map[string]int32 `json:"fileModes"`
	EmptyDir  *emptyDirJSON    `json:"emptyDir"`
}

// mountsJSON is where a (init) container's volume mounts carry additions.
type mountsJSON struct {
	Name       string `json:"name"`
	Properties struct {
		VolumeMounts []struct {
			MountPath string `json:"mountPath"`
			SubPath   string `json:"subPath"`
		} `json:"volumeMounts"`
	} `json:"properties"`
}

// volumesGroupJSON is the part of a container group's JSON that holds the
// volume additions.
type volumesGroupJSON struct {
	Properties struct {
		SecurityContext *struct {
			FSGroup             *int64 `json:"fsGroup"`
			FSGroupChangePolicy string `json:"fsGroupChangePolicy"`
		} `json:"securityContext"`
		Volumes        []volumeJSON `json:"volumes"`
		Containers     []mountsJSON `json:"containers"`
		InitContainers []mountsJSON `json:"initContainers"`
	} `json:"properties"`
}

// parseVolumes reads the volume additions of a container group's JSON.
func (e *GroupExtensions) parseVolumes(raw []byte) error {
	var g volumesGroupJSON
	if err := json.Unmarshal(raw, &g); err != nil {
		return fmt.Errorf("read vnode's volume additions: %w", err)
	}
	p := g.Properties
	if sc := p.SecurityContext; sc != nil {
		e.FSGroup, e.FSGroupChangePolicy = sc.FSGroup, sc.FSGroupChangePolicy
	}
	for _, vol := range p.Volumes {
		e.addModes(vol.Name, vol.FileModes)
		if ed := vol.EmptyDir; ed != nil && (ed.Medium != "" || ed.SizeLimit != nil) {
			d := EmptyDir{Medium: ed.Medium}
			if ed.SizeLimit != nil {
				d.SizeLimit = ed.SizeLimit.Value() // rounded up to a whole byte
			}
			if e.EmptyDirs == nil {
				e.EmptyDirs = map[string]EmptyDir{}
			}
			e.EmptyDirs[vol.Name] = d
		}
	}
	for _, c := range append(p.Containers, p.InitContainers...) {
		for _, m := range c.Properties.VolumeMounts {
			if m.SubPath == "" {
				continue
			}
			if e.SubPaths == nil {
				e.SubPaths = map[string]map[string]string{}
			}
			if e.SubPaths[c.Name] == nil {
				e.SubPaths[c.Name] = map[string]string{}
			}
			e.SubPaths[c.Name][m.MountPath] = m.SubPath
		}
	}
	return nil
}

// addModes records the file modes of a volume.
func (e *GroupExtensions) addModes(volume string, modes map[string]int32) {
	if len(modes) == 0 {
		return
	}
	if e.FileModes == nil {
		e.FileModes = map[string]map[string]int32{}
	}
	e.FileModes[volume] = modes
}

// applyVolumes writes the volume additions into a group's properties.
func (e GroupExtensions) applyVolumes(props map[string]any) {
	if e.FSGroup != nil || e.FSGroupChangePolicy != "" {
		sc, _ := props["securityContext"].(map[string]any)
		if sc == nil {
			sc = map[string]any{}
			props["securityContext"] = sc
		}
		if e.FSGroup != nil {
			sc["fsGroup"] = *e.FSGroup
		}
		setString(sc, "fsGroupChangePolicy", e.FSGroupChangePolicy)
	}
	vols, _ := props["volumes"].([]any)
	for _, vol := range vols {
		vm, _ := vol.(map[string]any)
		if vm == nil {
			continue
		}
		name, _ := vm["name"].(string)
		if modes, ok := e.FileModes[name]; ok {
			vm["fileModes"] = modes
		}
		if d, ok := e.EmptyDirs[name]; ok {
			ed, _ := vm["emptyDir"].(map[string]any)
			if ed == nil {
				ed = map[string]any{}
				vm["emptyDir"] = ed
			}
			setString(ed, "medium", d.Medium)
			if d.SizeLimit > 0 {
				ed["sizeLimit"] = resource.NewQuantity(d.SizeLimit, resource.BinarySI).String()
			}
		}
	}
	for _, key := range []string{"containers", "initContainers"} {
		cs, _ := props[key].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			name, _ := cm["name"].(string)
			cp, _ := cm["properties"].(map[string]any)
			if sub := e.SubPaths[name]; len(sub) > 0 && cp != nil {
				applySubPaths(cp, sub)
			}
		}
	}
}

// applySubPaths writes subPath into the mounts of a container's
// properties whose mount paths sub names.
func applySubPaths(props map[string]any, sub map[string]string) {
	ms, _ := props["volumeMounts"].([]any)
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		at, _ := mm["mountPath"].(string)
		if s, ok := sub[at]; ok && mm != nil {
			mm["subPath"] = s
		}
	}
}

// refreshJSON is the part of a refreshVolumes body that holds additions.
type refreshJSON struct {
	Volumes []volumeJSON `json:"volumes"`
}

// ParseRefreshModes returns the file modes, by volume and file name, that
// the body of a refreshVolumes action carries (nil when none).
func ParseRefreshModes(raw []byte) (map[string]map[string]int32, error) {
	var r refreshJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("read vnode's volume additions: %w", err)
	}
	var v GroupExtensions
	for _, vol := range r.Volumes {
		v.addModes(vol.Name, vol.FileModes)
	}
	return v.FileModes, nil
}

// ApplyRefreshModes writes file modes, by volume and file name, into the
// body of a refreshVolumes action; with none it returns raw unchanged.
func ApplyRefreshModes(raw []byte, modes map[string]map[string]int32) ([]byte, error) {
	if len(modes) == 0 {
		return raw, nil
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("write vnode's volume additions: %w", err)
	}
	GroupExtensions{FileModes: modes}.applyVolumes(body)
	out, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("write vnode's volume additions: %w", err)
	}
	return out, nil
}
