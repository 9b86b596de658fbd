package aci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// reasonUnsupported is the reason of the warnings about pod features that
// were left out of the group.
const reasonUnsupported = "Unsupported"

// Create implements backend.Backend. It PUTs the pod's group and returns
// once the service accepted it, without waiting for the deployment: the
// poller reports the rest. A pod whose group is already tracked succeeds.
// Errors converting the pod (but a *backend.ConfigError, which its user
// can fix) or exceeding the location's capabilities are final; failures of
// the service are retryable.
func (b *Backend) Create(ctx context.Context, w *backend.Workload) error {
	pod := w.Pod
	e, err := b.claim(pod)
	if e == nil || err != nil {
		return err
	}
	spec, err := b.build(ctx, w, e)
	if err == nil {
		err = b.put(ctx, spec)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		delete(b.entries, e.uid)
		if e.deleteAfterCreate {
			b.forgetLocked(e, backend.ReasonCompleted, "deleted before the container group was created", 0)
		}
		return err
	}
	now := b.cfg.Clock.Now()
	e.creating, e.acceptedAt, e.specHash, e.needsRead = false, now, spec.hash(), true
	e.images = specImages(spec)
	for _, msg := range spec.warnings {
		e.pending = append(e.pending, backend.Event{Type: corev1.EventTypeWarning, Reason: reasonUnsupported, Message: msg, Time: now})
	}
	g := spec.group
	g.Name = &spec.name
	b.publishLocked(e, podState(view{group: &g}))
	if e.deleteAfterCreate {
		go b.deleteLater(e.uid, e.grace)
	}
	b.wake()
	return nil
}

// claim registers a create of pod, returning nil (and nil) when the pod's
// group is already tracked.
func (b *Backend) claim(pod *corev1.Pod) (*entry, error) {
	name := GroupName(pod.Namespace, pod.Name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[pod.UID]; ok {
		if e.creating {
			return nil, fmt.Errorf("%w: container group %s is being created", backend.ErrRetryable, name)
		}
		return nil, nil
	}
	for _, other := range b.entries {
		if other.group == name {
			return nil, fmt.Errorf("%w: container group %s still belongs to the previous pod %s (uid %s), being deleted",
				backend.ErrRetryable, name, other.namespace+"/"+other.name, other.uid)
		}
	}
	e := &entry{uid: pod.UID, namespace: pod.Namespace, name: pod.Name, group: name, creating: true,
		events: eventLog{}, primed: true}
	b.entries[pod.UID] = e
	return e, nil
}

// build converts the workload, with the location's capabilities.
func (b *Backend) build(ctx context.Context, w *backend.Workload, e *entry) (*groupSpec, error) {
	maxCPU, maxMem, err := b.capabilities(ctx) // which also learns the service's extensions
	if err != nil {
		return nil, err
	}
	containerArgs, security := b.ext.has(wire.ExtContainerArgs), b.ext.has(wire.ExtSecurityContext)
	var entrypoints map[string][]string
	if !containerArgs {
		if entrypoints, err = b.entrypoints(ctx, w); err != nil {
			return nil, err
		}
	}
	var imageUsers map[string]string
	if !security {
		if imageUsers, err = b.imageUsers(ctx, w); err != nil {
			return nil, err
		}
	}
	spec, err := convert(w, convertOptions{
		location: b.cfg.Location, node: b.cfg.NodeName, subnetIDs: b.cfg.SubnetIDs, dns: b.cfg.DNS,
		limits:    Limits{MinCPU: b.cfg.MinGroupCPU, MinMemoryGB: b.cfg.MinGroupMemoryGB, MaxCPU: maxCPU, MaxMemoryGB: maxMem},
		tcpSocket: b.ext.has(wire.ExtTCPSocket), hosts: b.ext.has(wire.ExtGroupHosts), fieldEnv: b.ext.has(wire.ExtFieldEnv),
		termination: b.ext.has(wire.ExtTerminationMessage),
		lifecycle:   b.ext.has(wire.ExtLifecycleHooks),
		envNames:    b.ext.has(wire.ExtEnvNames),
		volumeFiles: b.ext.has(wire.ExtVolumeFiles), subPath: b.ext.has(wire.ExtSubPath),
		nestedFiles:   b.ext.has(wire.ExtNestedFiles),
		containerArgs: containerArgs, entrypoints: entrypoints,
		security: security, imageUsers: imageUsers,
		now:          b.cfg.Clock.Now(),
		startupProbe: b.ext.has(wire.ExtStartupProbe), grpcProbe: b.ext.has(wire.ExtGRPCProbe),
	})
	var cfgErr *backend.ConfigError
	switch {
	case errors.As(err, &cfgErr):
		return nil, err // the user's to fix: the pod may run then
	case err != nil:
		// A pod that cannot be expressed as a container group, or asks
		// for more than the location offers, never will be.
		return nil, fmt.Errorf("%w: %w", backend.ErrUnsatisfiable, err)
	}
	return spec, nil
}

// put sends the group; it returns once the service accepted it.
func (b *Backend) put(ctx context.Context, spec *groupSpec) error {
	ctx = withExtras(ctx, requestExtras{ext: spec.ext})
	if _, err := b.groups.BeginCreateOrUpdate(ctx, b.cfg.ResourceGroup, spec.name, spec.group, nil); err != nil {
		return classify(err, "create container group "+spec.name)
	}
	return nil
}

// hash identifies the group's body apart from its tags.
func (s *groupSpec) hash() string {
	g := s.group
	g.Tags = nil
	data, _ := json.Marshal(struct {
		G any
		P any
	}{g, s.ext})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func specImages(s *groupSpec) map[string]string {
	out := map[string]string{}
	p := s.group.Properties
	for _, c := range p.Containers {
		out[deref(c.Name)] = deref(c.Properties.Image)
	}
	for _, c := range p.InitContainers {
		out[deref(c.Name)] = deref(c.Properties.Image)
	}
	return out
}
