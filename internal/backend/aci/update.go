package aci

import (
	"context"
	"fmt"
	"time"

	"github.com/vnode-io/vnode/internal/backend"
)

// Update implements backend.Backend: the group is PUT again with the new
// workload when it differs from the last PUT (images, resolved environment
// and volume contents), which ACI applies in place by restarting the
// containers. Changes ACI refuses in place (resources, ports, restart
// policy, …) return an error wrapping backend.ErrNotSupported.
func (b *Backend) Update(ctx context.Context, w *backend.Workload) error {
	b.mu.Lock()
	e, ok := b.entries[w.Pod.UID]
	if !ok {
		b.mu.Unlock()
		return fmt.Errorf("update pod %s/%s: %w", w.Pod.Namespace, w.Pod.Name, backend.ErrNotFound)
	}
	if e.creating || e.deleting {
		b.mu.Unlock()
		return fmt.Errorf("%w: container group %s is being created or deleted", backend.ErrRetryable, e.group)
	}
	lastHash, lastImages := e.specHash, e.images
	var accepted time.Time
	if e.state != nil {
		accepted = e.state.StartTime
	}
	b.mu.Unlock()

	spec, err := b.build(ctx, w, e)
	if err != nil {
		return err
	}
	if !accepted.IsZero() {
		spec.group.Tags[TagAcceptedTime] = ptr(accepted.UTC().Format(time.RFC3339))
	}
	hash := spec.hash()
	if hash == lastHash || (lastHash == "" && sameImages(lastImages, specImages(spec))) {
		return nil // nothing the group does not have already
	}
	if err := b.put(ctx, spec); err != nil {
		if errorCode(err) == codeInvalidUpdate {
			return fmt.Errorf("%w: %w", backend.ErrNotSupported, err)
		}
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e.specHash, e.images, e.needsRead = hash, specImages(spec), true
	b.wake()
	return nil
}

func sameImages(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
