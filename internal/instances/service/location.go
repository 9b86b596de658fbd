package service

import (
	"context"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/store"
)

func (s *Service) location(name string) (config.Location, error) {
	loc, ok := s.cfg.Location(name)
	if !ok {
		return loc, errdefs.New(errdefs.NotFound, "LocationNotAvailableForResourceType",
			"The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.",
			name, ResourceType, s.locationNames())
	}
	return loc, nil
}

// Usages reports a subscription's quota use in a location, as ACI's
// location usages endpoint.
func (s *Service) Usages(sub, location string) ([]*aci.Usage, error) {
	loc, err := s.location(location)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	groups, cores := s.usageOf(sub, loc.Name)
	s.mu.Unlock()
	mk := func(name, localized string, current, limit int) *aci.Usage {
		unit := "Count"
		c, l := int32(current), int32(limit)
		id := "/subscriptions/" + sub + "/providers/Microsoft.ContainerInstance/locations/" + loc.Name + "/usages/" + name
		return &aci.Usage{ID: &id, Unit: &unit, CurrentValue: &c, Limit: &l,
			Name: &aci.UsageName{Value: &name, LocalizedValue: &localized}}
	}
	return []*aci.Usage{
		mk("ContainerGroups", "Container Groups", groups, loc.Quota.ContainerGroups),
		mk("StandardCores", "Standard Cores", ceilInt(cores), loc.Quota.StandardCores),
	}, nil
}

// Capabilities describes what a group may request in a location.
func (s *Service) Capabilities(location string) ([]*aci.Capabilities, error) {
	loc, err := s.location(location)
	if err != nil {
		return nil, err
	}
	rt, os, gpu := "containerGroups", "Linux", "None"
	cpu, mem, gpus := float32(loc.Capabilities.MaxCPU), float32(loc.Capabilities.MaxMemoryInGB), float32(loc.Capabilities.MaxGPUCount)
	var out []*aci.Capabilities
	for _, ipType := range []string{"Public", "Private"} {
		ip := ipType
		out = append(out, &aci.Capabilities{ResourceType: &rt, OSType: &os, Location: &loc.Name, IPAddressType: &ip,
			Gpu: &gpu, Capabilities: &aci.CapabilitiesCapabilities{MaxCPU: &cpu, MaxMemoryInGB: &mem, MaxGpuCount: &gpus}})
	}
	return out, nil
}

// CachedImages lists the images the runtime holds.
func (s *Service) CachedImages(ctx context.Context, location string) ([]*aci.CachedImages, error) {
	if _, err := s.location(location); err != nil {
		return nil, err
	}
	images, err := s.rt.CachedImages(ctx)
	if err != nil {
		return nil, err
	}
	out := []*aci.CachedImages{}
	for _, img := range images {
		i, os := img, "Linux"
		out = append(out, &aci.CachedImages{Image: &i, OSType: &os})
	}
	return out, nil
}

// MeteredUsage reports metered usage (vCPU-seconds, GB-seconds, cost) and
// the query as run: a window ending in the future or unset ends now.
func (s *Service) MeteredUsage(ctx context.Context, q store.UsageQuery) ([]store.UsageRow, store.UsageQuery, error) {
	if q.Now == 0 {
		q.Now = store.UnixSeconds(s.clock.Now())
	}
	if q.To == 0 || q.To > q.Now {
		q.To = q.Now
	}
	rows, err := s.store.Usage(ctx, q)
	return rows, q, err
}

// Config returns the configuration the service runs with.
func (s *Service) Config() config.Config { return s.cfg }
