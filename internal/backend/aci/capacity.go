package aci

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vnode-io/vnode/internal/backend"
)

// capabilitiesCache holds the location's largest group, read at most once
// per Config.CapabilitiesTTL.
type capabilitiesCache struct {
	mu      sync.Mutex
	maxCPU  float64
	maxMemo float64
	at      time.Time
}

// capabilities returns the location's maximum CPU and memory (GB) per
// Linux group, reading them when the cache is stale. Zero: not stated.
func (b *Backend) capabilities(ctx context.Context) (cpu, mem float64, err error) {
	c := &b.caps
	c.mu.Lock()
	defer c.mu.Unlock()
	now := b.cfg.Clock.Now()
	if !c.at.IsZero() && now.Sub(c.at) < b.cfg.CapabilitiesTTL {
		return c.maxCPU, c.maxMemo, nil
	}
	cpu, mem, err = b.readCapabilities(ctx)
	if err != nil {
		return 0, 0, err
	}
	c.maxCPU, c.maxMemo, c.at = cpu, mem, now
	return cpu, mem, nil
}

// readCapabilities lists the location's capabilities: the largest Linux
// container group offered (standard SKU, no GPU).
func (b *Backend) readCapabilities(ctx context.Context) (cpu, mem float64, err error) {
	pager := b.location.NewListCapabilitiesPager(b.cfg.Location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, 0, classify(err, "read the location's capabilities")
		}
		for _, c := range page.Value {
			if c == nil || c.Capabilities == nil || !strings.EqualFold(deref(c.ResourceType), "containerGroups") {
				continue
			}
			if os := deref(c.OSType); os != "" && !strings.EqualFold(os, "Linux") {
				continue
			}
			cpu = max(cpu, float64(deref(c.Capabilities.MaxCPU)))
			mem = max(mem, float64(deref(c.Capabilities.MaxMemoryInGB)))
		}
	}
	return cpu, mem, nil
}

// Capacity implements backend.Backend: pods from the ContainerGroups quota,
// CPU from the StandardCores quota, memory Config.MemoryPerCPU per core
// (4 GiB by default), each from backend.DefaultCapacity when the location
// reports no such usage.
func (b *Backend) Capacity(ctx context.Context) (corev1.ResourceList, error) {
	out := backend.DefaultCapacity()
	pager := b.location.NewListUsagePager(b.cfg.Location, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "read the location's usages")
		}
		for _, u := range page.Value {
			if u == nil || u.Name == nil || u.Limit == nil || *u.Limit <= 0 {
				continue
			}
			limit := int64(*u.Limit)
			switch deref(u.Name.Value) {
			case "ContainerGroups":
				out[corev1.ResourcePods] = *resource.NewQuantity(limit, resource.DecimalSI)
			case "StandardCores":
				out[corev1.ResourceCPU] = *resource.NewQuantity(limit, resource.DecimalSI)
				out[corev1.ResourceMemory] = *resource.NewQuantity(limit*b.cfg.MemoryPerCPU, resource.BinarySI)
			}
		}
	}
	return out, nil
}

// Health implements backend.Backend: nil while the service answers for the
// location (its capabilities are read, which also refreshes the cache and
// what extensions the service announces).
func (b *Backend) Health(ctx context.Context) error {
	cpu, mem, err := b.readCapabilities(ctx)
	if err != nil {
		return fmt.Errorf("container instances in %s: %w", b.cfg.Location, err)
	}
	c := &b.caps
	c.mu.Lock()
	c.maxCPU, c.maxMemo, c.at = cpu, mem, b.cfg.Clock.Now()
	c.mu.Unlock()
	return nil
}
