package fake

import (
	"context"
	"fmt"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// UpdateVolumes replaces the files of the group's secret volumes named in
// volumes. Nothing restarts; a stopped group keeps the files for Volumes,
// and its next Run takes the spec it is given.
func (r *Runtime) UpdateVolumes(ctx context.Context, id string, volumes []runtime.Volume) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fake: update volumes of group %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return err
	}
	vols, err := runtime.ReplaceVolumes(g.volumes, copyVolumes(volumes))
	if err != nil {
		return err
	}
	g.volumes = vols
	r.volumeUpdates++
	return nil
}

// Volumes returns a copy of a group's volumes as they are now: those of
// its last Run, with the secret files of later UpdateVolumes calls.
func (r *Runtime) Volumes(id string) ([]runtime.Volume, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return nil, err
	}
	return copyVolumes(g.volumes), nil
}

// VolumeUpdates returns how many UpdateVolumes calls succeeded.
func (r *Runtime) VolumeUpdates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.volumeUpdates
}
