package pods

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
)

// reasonVolumeUpdateNotSupported is the event reason when a backend cannot
// update a running pod's volume files.
const reasonVolumeUpdateNotSupported = "VolumeUpdateNotSupported"

// refreshVolumes keeps a running pod's ConfigMap, Secret, projected and
// downward-API files current, as the kubelet does: when what they resolve
// to differs from what the workload was given (a changed ConfigMap, a
// token due for replacement), the backend replaces the files in place.
// The pod is queued again for when its next token is due.
func (c *Controller) refreshVolumes(ctx context.Context, key string, pod *corev1.Pod) error {
	if isTerminal(pod) || !hasFileVolumes(pod) {
		return nil
	}
	updater, ok := c.cfg.Backend.(backend.VolumeUpdater)
	if !ok {
		return nil
	}
	defer c.scheduleTokenRefresh(key, pod.UID)
	files, err := c.resolver.volumes(ctx, pod)
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		// Running containers keep the files they have, as on a node.
		c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: "+cfgErr.message)
		return nil
	}
	if err != nil {
		return err
	}
	sum := hashFiles(files)
	last := c.volumeHash(pod.UID)
	known := last != ""
	if last == sum {
		return nil
	}
	err = updater.UpdateVolumes(ctx, &backend.Workload{Pod: pod, Volumes: files})
	switch {
	case errors.Is(err, backend.ErrNotSupported):
		if known {
			c.cfg.Recorder.Event(pod, corev1.EventTypeWarning, reasonVolumeUpdateNotSupported,
				"volume contents changed but the running containers keep the old files: "+err.Error())
		}
	case errors.Is(err, backend.ErrNotFound):
		return nil // not created yet, or gone
	case err != nil:
		return fmt.Errorf("update the volumes of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	c.setVolumeHash(pod, sum)
	return nil
}

// scheduleTokenRefresh queues the pod for when its next token is due.
func (c *Controller) scheduleTokenRefresh(key string, uid types.UID) {
	if c.resolver.tokens == nil {
		return
	}
	if due := c.resolver.tokens.nextDue(uid); !due.IsZero() {
		c.queue.AddAfter(key, max(due.Sub(c.cfg.Clock.Now()), 0))
	}
}

// hasFileVolumes reports whether the pod has volumes whose files the agent
// resolves.
func hasFileVolumes(pod *corev1.Pod) bool {
	return slices.ContainsFunc(pod.Spec.Volumes, backend.FileVolume)
}

// hashFiles identifies the content of a pod's volume files.
func hashFiles(files map[string][]backend.File) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h.Write([]byte(name + "\x00"))
		for _, f := range files[name] {
			h.Write([]byte(f.Path + "\x00" + strconv.Itoa(int(f.Mode)) + "\x00" + strconv.Itoa(len(f.Data)) + "\x00"))
			h.Write(f.Data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
