package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/instances/validate"
	"github.com/vnode-io/vnode/internal/wire"
)

// Ref names a container group.
type Ref struct {
	Subscription, ResourceGroup, Name string
}

func (r Ref) key() string { return Key(r.Subscription, r.ResourceGroup, r.Name) }

// PutResult is the outcome of CreateOrUpdate.
type PutResult struct {
	Group   *aci.ContainerGroup
	Created bool
	// Operation is the asynchronous operation started, nil when the request
	// completed at once.
	Operation *store.Operation
	// Throttle is what the rate limiter left of the subscription's create
	// budgets; zero for an update, which spends none of them.
	Throttle throttle.Decision
}

// CreateOrUpdate creates a group or updates it in place, as ARM's PUT. The
// work happens asynchronously; the returned group is in provisioning state
// Pending (create) or Updating (update). A create the rate limiter refuses
// fails with a *throttle.Refusal.
func (s *Service) CreateOrUpdate(ctx context.Context, ref Ref, body *aci.ContainerGroup, ext wire.GroupExtensions) (*PutResult, error) {
	if err := validate.GroupName(ref.Name); err != nil {
		return nil, err
	}
	loc, err := s.admitLocation(body)
	if err != nil {
		return nil, err
	}
	if err := validate.ContainerGroup(body, loc, s.cfg.Limits, ext); err != nil {
		return nil, err
	}
	cleanSpec(body)
	secrets := splitSecrets(body)
	if _, err := runtimeSpec("check", ref.Name, "", body, secrets, ext); err != nil {
		return nil, errdefs.InvalidField("InvalidRequestContent", "properties.volumes", "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[ref.key()]; g != nil {
		return s.update(ctx, g, loc, body, secrets, ext)
	}
	return s.create(ctx, ref, loc, body, secrets, ext)
}

// admitLocation checks that the body names a location this service offers.
func (s *Service) admitLocation(body *aci.ContainerGroup) (config.Location, error) {
	if body == nil {
		return config.Location{}, errdefs.InvalidContent("The request content was invalid and could not be deserialized: the body is empty.")
	}
	if body.Location == nil || *body.Location == "" {
		return config.Location{}, errdefs.InvalidField("LocationRequired", "location", "The location property is required for this definition.")
	}
	loc, ok := s.cfg.Location(*body.Location)
	if !ok {
		return config.Location{}, errdefs.InvalidField("LocationNotAvailableForResourceType", "location",
			"The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.",
			*body.Location, ResourceType, s.locationNames())
	}
	return loc, nil
}

func (s *Service) locationNames() string {
	var names []string
	for _, l := range s.cfg.Locations {
		names = append(names, l.Name)
	}
	return strings.Join(names, ",")
}

func (s *Service) create(ctx context.Context, ref Ref, loc config.Location, body *aci.ContainerGroup,
	secrets *secretValues, ext wire.GroupExtensions) (*PutResult, error) {
	cpu, mem := totals(body)
	if err := s.admitResources(ref.Subscription, loc, cpu, mem, true); err != nil {
		return nil, err
	}
	var budgets throttle.Decision
	if s.limiter != nil {
		var err error
		if budgets, err = s.limiter.Allow(throttle.Create, ref.Subscription, ResourceType+"/write"); err != nil {
			return nil, err
		}
	}
	now := s.clock.Now().UTC()
	body.Location = &loc.Name
	g := &group{key: ref.key(), uid: newID(), sub: ref.Subscription, rg: ref.ResourceGroup, name: ref.Name,
		location: loc.Name, spec: body, secrets: secrets, ext: ext, provisioning: ProvisioningPending,
		created: now}
	s.groups[g.key] = g
	s.byUID[g.uid] = g
	op, err := s.beginOperation(ctx, g, kindCreate)
	if err != nil {
		s.uncount(g)
		delete(s.groups, g.key)
		delete(s.byUID, g.uid)
		return nil, err
	}
	return &PutResult{Group: s.view(g, true), Created: true, Operation: op, Throttle: budgets}, nil
}

func (s *Service) update(ctx context.Context, g *group, loc config.Location, body *aci.ContainerGroup,
	secrets *secretValues, ext wire.GroupExtensions) (*PutResult, error) {
	if err := s.busy(g, "update"); err != nil {
		return nil, err
	}
	if loc.Name != g.location {
		return nil, errdefs.InvalidField("InvalidResourceLocation", "location",
			"The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
			g.name, g.location, g.rg, loc.Name)
	}
	body.Location = &loc.Name
	// A stopped, failed or finished group is deployed anew, so anything may
	// change; a running one refuses what ACI cannot change in place.
	finished := g.stopped || g.provisioning == ProvisioningFailed || isTerminal(groupState(g))
	if !finished {
		named := *body
		named.Name = &g.name
		if err := validate.ImmutableChange(g.spec, &named); err != nil {
			return nil, err
		}
	}
	if specEqual(g.spec, body, g.secrets, secrets) && g.ext.Equal(ext) && !finished {
		g.spec.Tags = body.Tags
		if err := s.persist(ctx, g); err != nil {
			return nil, err
		}
		return &PutResult{Group: s.view(g, true)}, nil
	}
	if finished {
		cpu, mem := totals(body)
		if err := s.admitResources(g.sub, loc, cpu, mem, false); err != nil {
			return nil, err
		}
	}
	g.spec, g.secrets, g.ext = body, secrets, ext
	g.provisioning = ProvisioningUpdating
	kind := kindUpdate
	if finished {
		kind = kindStart
		g.provisioning = ProvisioningPending
	}
	op, err := s.beginOperation(ctx, g, kind)
	if err != nil {
		return nil, err
	}
	return &PutResult{Group: s.view(g, true), Operation: op}, nil
}

// busy refuses a request while another operation runs on the group.
func (s *Service) busy(g *group, action string) error {
	if g.provisioning == ProvisioningDeleting {
		return errdefs.New(errdefs.Conflict, "ContainerGroupDeleting",
			"Container group '%s' is being deleted; the %s request cannot be processed. Retry after the deletion completes.", g.name, action)
	}
	if g.op != nil {
		return errdefs.New(errdefs.Conflict, "AnotherOperationInProgress",
			"The %s request on container group '%s' conflicts with operation '%s' (%s) that is still in progress. Retry after it completes.",
			action, g.name, g.op.ID, g.op.Kind)
	}
	return nil
}

// admitResources checks capabilities were already validated; this checks the
// subscription's quota and the location's capacity. Callers hold s.mu.
func (s *Service) admitResources(sub string, loc config.Location, cpu, mem float64, newGroup bool) error {
	groups, cores := s.usageOf(sub, loc.Name)
	usedCPU, usedMem := s.capacityUsed(loc.Name)
	if newGroup && groups+1 > loc.Quota.ContainerGroups {
		return quotaError("ContainerGroups", loc.Name, loc.Quota.ContainerGroups, groups, 1)
	}
	needCores := ceilInt(cores + cpu)
	if needCores > loc.Quota.StandardCores {
		return quotaError("StandardCores", loc.Name, loc.Quota.StandardCores, ceilInt(cores), ceilInt(cpu))
	}
	if loc.Capacity.CPU > 0 || loc.Capacity.MemoryInGB > 0 {
		if (loc.Capacity.CPU > 0 && usedCPU+cpu > loc.Capacity.CPU+1e-9) ||
			(loc.Capacity.MemoryInGB > 0 && usedMem+mem > loc.Capacity.MemoryInGB+1e-9) {
			return errdefs.New(errdefs.Unavailable, "ServiceUnavailable",
				"The requested resource is not available in the location '%s' at this moment. Please retry with a different resource request or in another location. Resource requested: '%s' CPU '%s' GB memory 'Linux' OS",
				loc.Name, num(cpu), num(mem))
		}
	}
	return nil
}

func quotaError(quota, location string, limit, usage, requested int) error {
	return errdefs.New(errdefs.QuotaExceeded, "ContainerGroupQuotaReached",
		"Resource type '%s' container group quota '%s' exceeded in region '%s'. Limit: '%d', Usage: '%d' Requested: '%d'.",
		ResourceType, quota, location, limit, usage, requested)
}

func num(f float64) string { return fmt.Sprintf("%g", f) }

func ceilInt(f float64) int {
	n := int(f)
	if float64(n) < f-1e-9 {
		n++
	}
	return n
}

// usageOf returns how many groups a subscription has in a location and the
// cores its active groups request. Callers hold s.mu.
func (s *Service) usageOf(sub, location string) (groups int, cores float64) {
	u := s.acct.sub(sub, location)
	return u.groups, float64(u.milliCores) / 1000
}

// capacityUsed sums what active groups in a location request.
func (s *Service) capacityUsed(location string) (cpu, mem float64) {
	u := s.acct.loc(location)
	return float64(u.milliCPU) / 1000, float64(u.memoryMB) / 1000
}

// holdsCompute reports whether a group occupies compute: it is neither
// stopped, failed to provision, nor finished.
func holdsCompute(g *group) bool {
	if g.stopped || g.provisioning == ProvisioningFailed {
		return false
	}
	return !isTerminal(groupState(g))
}

// Get returns a group with its instance view.
func (s *Service) Get(ref Ref) (*aci.ContainerGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return nil, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	return s.view(g, true), nil
}

// List returns the groups of a subscription, or of one resource group when
// rg is set, ordered by name, starting after the key skip, at most max.
// next is the skip token for the following page ("" at the end).
func (s *Service) List(sub, rg, skip string, max int) (items []*aci.ContainerGroup, next string) {
	listed, next := s.list(sub, rg, skip, max, false)
	for _, l := range listed {
		items = append(items, l.Group)
	}
	return items, next
}

// ListedGroup is one group of an expanded list: its view with the instance
// view, as GET returns it, and vnode's additions to its JSON.
type ListedGroup struct {
	Group     *aci.ContainerGroup
	Additions wire.GroupAdditions
}

// ListExpanded is List with each group's instance view and additions (the
// list-instance-view extension), so that a client follows every group's
// state with one request per page instead of one GET per group.
func (s *Service) ListExpanded(sub, rg, skip string, max int) ([]ListedGroup, string) {
	return s.list(sub, rg, skip, max, true)
}

func (s *Service) list(sub, rg, skip string, max int, expand bool) (items []ListedGroup, next string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	prefix := strings.ToLower(sub) + "/"
	if rg != "" {
		prefix += strings.ToLower(rg) + "/"
	}
	for k := range s.groups {
		if strings.HasPrefix(k, prefix) && k > skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if max > 0 && len(keys) > max {
		next = keys[max-1]
		keys = keys[:max]
	}
	for _, k := range keys {
		g := s.groups[k]
		l := ListedGroup{Group: s.view(g, expand)}
		if expand {
			l.Additions = additionsLocked(g)
		}
		items = append(items, l)
	}
	return items, next
}

// UpdateTags replaces a group's tags (ARM PATCH).
func (s *Service) UpdateTags(ctx context.Context, ref Ref, tags map[string]*string) (*aci.ContainerGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return nil, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	if g.provisioning == ProvisioningDeleting {
		return nil, s.busy(g, "update")
	}
	g.spec.Tags = tags
	if err := s.persist(ctx, g); err != nil {
		return nil, err
	}
	return s.view(g, true), nil
}

// DeleteResult is the outcome of Delete.
type DeleteResult struct {
	// Operation is the delete under way; nil when the group does not exist
	// (ARM answers 204).
	Operation *store.Operation
	// Throttle is what the rate limiter left of the subscription's delete
	// budgets; zero when the delete spent none (no group, or a delete
	// already under way).
	Throttle throttle.Decision
}

// Delete starts deleting a group; its containers get grace to stop (the
// runtime's default when 0). An operation in flight is canceled. A delete
// the rate limiter refuses fails with a *throttle.Refusal.
func (s *Service) Delete(ctx context.Context, ref Ref, grace time.Duration) (*DeleteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return &DeleteResult{}, nil
	}
	if g.provisioning == ProvisioningDeleting && g.op != nil {
		return &DeleteResult{Operation: g.op}, nil
	}
	var budgets throttle.Decision
	if s.limiter != nil {
		var err error
		if budgets, err = s.limiter.Allow(throttle.Delete, ref.Subscription, ResourceType+"/delete"); err != nil {
			return nil, err
		}
	}
	if g.op != nil {
		s.endOperation(ctx, g, OpCanceled, "OperationCanceled", "Canceled by a delete of the container group.")
	}
	g.provisioning = ProvisioningDeleting
	g.deleteGrace = grace
	op, err := s.beginOperation(ctx, g, kindDelete)
	if err != nil {
		return nil, err
	}
	return &DeleteResult{Operation: op, Throttle: budgets}, nil
}

// Stop stops a group's containers — SIGTERM, then SIGKILL after grace (the
// runtime's default when 0) — and ends its metering (synchronous).
func (s *Service) Stop(ctx context.Context, ref Ref, grace time.Duration) error {
	s.mu.Lock()
	g := s.groups[ref.key()]
	if g == nil {
		s.mu.Unlock()
		return errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	if err := s.busy(g, "stop"); err != nil {
		s.mu.Unlock()
		return err
	}
	uid := g.uid
	s.mu.Unlock()

	if err := s.rt.Stop(ctx, uid, grace); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("stop container group %s: %w", ref.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g = s.byUID[uid]; g == nil {
		return errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	g.stopped = true
	if st, err := s.rt.Status(ctx, uid); err == nil {
		s.setStatus(g, st)
	}
	s.closeUsage(ctx, g, s.clock.Now())
	return s.persist(ctx, g)
}

// Start deploys a stopped or finished group anew (asynchronous). A running
// group is left alone and nil returned.
func (s *Service) Start(ctx context.Context, ref Ref) (*store.Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return nil, errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	if err := s.busy(g, "start"); err != nil {
		return nil, err
	}
	if !g.stopped && g.provisioning != ProvisioningFailed && !isTerminal(groupState(g)) {
		return nil, nil
	}
	loc, _ := s.cfg.Location(g.location)
	cpu, mem := totals(g.spec)
	if err := s.admitResources(g.sub, loc, cpu, mem, false); err != nil {
		return nil, err
	}
	g.provisioning = ProvisioningPending
	op, err := s.beginOperation(ctx, g, kindStart)
	if err != nil {
		return nil, err
	}
	return op, nil
}

// Restart restarts a running group's containers in place (synchronous).
func (s *Service) Restart(ctx context.Context, ref Ref) error {
	s.mu.Lock()
	g := s.groups[ref.key()]
	if g == nil {
		s.mu.Unlock()
		return errdefs.ResourceNotFound("containerGroups", ref.Name, ref.ResourceGroup)
	}
	if err := s.busy(g, "restart"); err != nil {
		s.mu.Unlock()
		return err
	}
	if !holdsCompute(g) || g.provisioning != ProvisioningSucceeded {
		state := groupState(g)
		s.mu.Unlock()
		return errdefs.New(errdefs.Conflict, "ContainerGroupNotRunning",
			"Container group '%s' cannot be restarted in state '%s'; start it instead.", ref.Name, state)
	}
	uid := g.uid
	s.mu.Unlock()
	if err := s.rt.Restart(ctx, uid); err != nil {
		return fmt.Errorf("restart container group %s: %w", ref.Name, err)
	}
	return nil
}

// beginOperation records a new operation on g with g's current state and
// launches it. Callers hold s.mu.
func (s *Service) beginOperation(ctx context.Context, g *group, kind string) (*store.Operation, error) {
	op := s.newOperation(g, kind)
	if err := s.persist(ctx, g); err != nil {
		g.op = nil
		return nil, err
	}
	if err := s.store.PutOperation(ctx, op); err != nil {
		g.op = nil
		return nil, err
	}
	s.launch(g, op)
	return op, nil
}

// Additions returns what vnode adds to a group's JSON: the extensions its
// PUT carried (tcpSocket probe actions, variables filled from the group,
// hostname, fqdn, host aliases, termination message settings), each
// container's readiness (its readiness probe's verdict; running without a
// probe counts as ready) and the termination messages of terminated states.
func (s *Service) Additions(ref Ref) wire.GroupAdditions {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[ref.key()]
	if g == nil {
		return wire.GroupAdditions{}
	}
	return additionsLocked(g)
}

func additionsLocked(g *group) wire.GroupAdditions {
	ready, started := map[string]bool{}, map[string]bool{}
	for _, c := range g.status.Containers {
		ready[c.Name] = c.Ready && !g.stopped
		started[c.Name] = c.Started && !g.stopped
	}
	return wire.GroupAdditions{GroupExtensions: g.ext, Ready: ready, Messages: messages(g.status), Started: started,
		ImageIDs: imageIDs(g.status)}
}

// imageIDs are the digest references of the images the group's (init)
// containers run, by container name; nil when the runtime reports none.
func imageIDs(st runtime.GroupStatus) map[string]string {
	var out map[string]string
	for _, c := range slices.Concat(st.InitContainers, st.Containers) {
		if c.ImageID == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[c.Name] = c.ImageID
	}
	return out
}

// messages are the termination messages of the group's terminated
// container states, by container name; nil when there are none.
func messages(st runtime.GroupStatus) map[string]wire.StateMessages {
	var out map[string]wire.StateMessages
	for _, cs := range [][]runtime.ContainerStatus{st.InitContainers, st.Containers} {
		for _, c := range cs {
			var m wire.StateMessages
			if c.Current.State == runtime.StateTerminated || c.Current.State == runtime.StateWaiting {
				// A waiting container's message says why, such as
				// what its configuration lacks.
				m.Current = c.Current.Message
			}
			if p := c.Previous; p != nil && p.State == runtime.StateTerminated {
				m.Previous = p.Message
			}
			if m != (wire.StateMessages{}) {
				if out == nil {
					out = map[string]wire.StateMessages{}
				}
				out[c.Name] = m
			}
		}
	}
	return out
}
