package aci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// codeInvalidVolume is the service's answer to a refresh naming a volume
// the group does not have as a secret volume.
const codeInvalidVolume = "InvalidVolume"

// UpdateVolumes implements backend.VolumeUpdater with vnode's
// refresh-volumes extension: the secret volumes holding the pod's files
// are replaced in the running group, atomically per volume, without a
// restart. ACI itself can only change them by redeploying the group, which
// restarts its containers: without the extension the error wraps
// backend.ErrNotSupported.
func (b *Backend) UpdateVolumes(ctx context.Context, w *backend.Workload) error {
	pod := w.Pod
	if !b.ext.has(wire.ExtRefreshVolumes) {
		return fmt.Errorf("%w: container instances replace volume files only by restarting the group", backend.ErrNotSupported)
	}
	e, err := b.groupOf(backend.PodRef{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID})
	if err != nil {
		return err
	}
	set := volumeSet{parts: map[string][]volumePart{}}
	for _, v := range pod.Spec.Volumes {
		if backend.FileVolume(v) {
			set.addFiles(v.Name, w.Volumes[v.Name], b.ext.has(wire.ExtNestedFiles))
		}
	}
	body, err := json.Marshal(struct {
		Volumes []*aci.Volume `json:"volumes"`
	}{set.volumes})
	if err == nil && b.ext.has(wire.ExtVolumeFiles) {
		body, err = wire.ApplyRefreshModes(body, set.modes)
	}
	if err != nil {
		return fmt.Errorf("encode the volumes of %s: %w", e.group, err)
	}
	req, err := b.newRequest(ctx, http.MethodPost, b.groupPath(e.group)+"/refreshVolumes", nil)
	if err != nil {
		return err
	}
	if err := req.SetBody(streaming.NopCloser(bytes.NewReader(body)), "application/json"); err != nil {
		return fmt.Errorf("refresh the volumes of %s: %w", e.group, err)
	}
	resp, err := b.do(req, "refresh the volumes of "+e.group, http.StatusOK)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == codeInvalidVolume {
		// The files moved to directories the group has no volume for.
		return fmt.Errorf("%w: %w", backend.ErrNotSupported, err)
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
