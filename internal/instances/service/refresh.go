package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/validate"
)

// RefreshVolumes replaces all the files of some of a group's secret
// volumes in place (vnode's refreshVolumes action): the stored secrets,
// sealed at rest as the others, and, while the group has a running
// deployment, the files its containers see. It starts no operation and
// changes neither the provisioning state nor the metering; nothing
// restarts. modes are the new files' modes by volume and file name (the
// volume-files extension; files without one are 0644). It returns the
// group as Get does.
func (s *Service) RefreshVolumes(ctx context.Context, ref Ref, volumes []*aci.Volume, modes map[string]map[string]int32) (*aci.ContainerGroup, error) {
	s.refreshes.Lock()
	defer s.refreshes.Unlock()
	uid, update, err := s.storeRefresh(ctx, ref, volumes, modes)
	if err != nil {
		return nil, err
	}
	if update != nil {
		if err := s.rt.UpdateVolumes(ctx, uid, update); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return nil, fmt.Errorf("refresh the volumes of container group %s: %w", ref.Name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.byUID[uid]
	if g == nil {
		return nil, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	return s.view(g, true), nil
}

// storeRefresh checks a refresh and persists the group's new secrets. It
// returns the group's uid and, when the group has a running deployment,
// the volumes to update in the runtime.
func (s *Service) storeRefresh(ctx context.Context, ref Ref, volumes []*aci.Volume, modes map[string]map[string]int32) (string, []runtime.Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return "", nil, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	if err := s.busy(g, "refreshVolumes"); err != nil {
		return "", nil, err
	}
	if err := validate.SecretRefresh(g.spec, volumes); err != nil {
		return "", nil, err
	}
	if err := validate.RefreshModes(volumes, modes); err != nil {
		return "", nil, err
	}
	secrets, spec, ext := refreshedSecrets(g.secrets, volumes), refreshedSpec(g.spec, volumes), refreshedModes(g.ext, volumes, modes)
	update := make([]runtime.Volume, 0, len(volumes))
	for _, v := range volumes {
		vol, err := volume(v, secrets)
		if err != nil {
			return "", nil, errdefs.InvalidField(validate.CodeInvalidSecretVolume, "volumes", "%v", err)
		}
		vol.FileModes = fileModes(modes[vol.Name])
		update = append(update, vol)
	}
	oldSecrets, oldSpec, oldExt := g.secrets, g.spec, g.ext
	g.secrets, g.spec, g.ext = secrets, spec, ext
	if err := s.persist(ctx, g); err != nil {
		g.secrets, g.spec, g.ext = oldSecrets, oldSpec, oldExt
		return "", nil, fmt.Errorf("store the refreshed volumes of %s: %w", ref.Name, err)
	}
	if g.stopped || g.provisioning != ProvisioningSucceeded {
		// The next deployment takes the stored secrets.
		return g.uid, nil, nil
	}
	return g.uid, update, nil
}

// refreshedSecrets returns a copy of s whose secret volumes named in
// volumes hold their files (base64 contents).
func refreshedSecrets(s *secretValues, volumes []*aci.Volume) *secretValues {
	out := *s
	out.SecretVolumes = maps.Clone(s.SecretVolumes)
	if out.SecretVolumes == nil {
		out.SecretVolumes = map[string]map[string]string{}
	}
	for _, v := range volumes {
		files := map[string]string{}
		for name, content := range v.Secret {
			if content != nil {
				files[name] = *content
			}
		}
		out.SecretVolumes[*v.Name] = files
	}
	return &out
}

// refreshedSpec returns a copy of spec whose secret volumes named in
// volumes list their new file names (without contents, as splitSecrets
// leaves them).
func refreshedSpec(spec *aci.ContainerGroup, volumes []*aci.Volume) *aci.ContainerGroup {
	out := *spec
	props := *spec.Properties
	props.Volumes = slices.Clone(props.Volumes)
	for i, v := range props.Volumes {
		j := slices.IndexFunc(volumes, func(r *aci.Volume) bool { return v != nil && str(r.Name) == str(v.Name) })
		if j < 0 {
			continue
		}
		names := map[string]*string{}
		for name := range volumes[j].Secret {
			names[name] = nil
		}
		nv := *v
		nv.Secret = names
		props.Volumes[i] = &nv
	}
	out.Properties = &props
	return &out
}
