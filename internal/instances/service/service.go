// Package service is the container instances service's core: container
// groups and their asynchronous operations, admission (validation,
// capabilities, quotas, capacity, rate limits), the instance view built from
// the runtime's reports, per-second metering, and recovery after a restart.
//
// The HTTP layer (package api) translates ARM requests into calls on Service
// and its errors (*armerr.Error) back into ARM responses.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/groupext"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/instances/throttle"
)

// Provisioning states of a container group.
const (
	ProvisioningPending   = "Pending"
	ProvisioningCreating  = "Creating"
	ProvisioningUpdating  = "Updating"
	ProvisioningSucceeded = "Succeeded"
	ProvisioningFailed    = "Failed"
	ProvisioningDeleting  = "Deleting"
)

// Operation statuses (ARM's Azure-AsyncOperation resource).
const (
	OpInProgress = "InProgress"
	OpSucceeded  = "Succeeded"
	OpFailed     = "Failed"
	OpCanceled   = "Canceled"
)

// Operation kinds.
const (
	kindCreate = "create"
	kindUpdate = "update"
	kindStart  = "start"
	kindDelete = "delete"
)

// ResourceType is the ARM type of a container group.
const ResourceType = "Microsoft.ContainerInstance/containerGroups"

// heartbeatKey is the meta key holding the last second the service was
// known to be up; usage of groups lost while it was down ends there.
const heartbeatKey = "heartbeat"

// Options configure a Service.
type Options struct {
	Config  config.Config
	Store   *store.Store
	Runtime runtime.Runtime
	Sealer  *sealer.Sealer
	// Limiter may be nil for no rate limits.
	Limiter *throttle.Limiter
	Clock   clock.WithTicker
	Logger  *slog.Logger
	// HeartbeatPeriod is how often the service records that it is up
	// (default 5 s).
	HeartbeatPeriod time.Duration
}

// Service manages container groups. Create one with New, then call Open.
type Service struct {
	cfg     config.Config
	store   *store.Store
	rt      runtime.Runtime
	sealer  *sealer.Sealer
	limiter *throttle.Limiter
	clock   clock.WithTicker
	log     *slog.Logger
	beat    time.Duration

	// mu guards groups, byUID and every group's fields. Runtime calls that
	// wait (deploy, stop, delete, exec, stats) are never made while holding
	// it. Status is: it returns a copy of what the runtime holds in memory,
	// and taking it under mu keeps it from overwriting a newer status that
	// the runtime pushed meanwhile.
	mu     sync.Mutex
	groups map[string]*group // by key
	byUID  map[string]*group
	acct   *accounting

	updates  *updateQueue
	sessions *sessions
	// refreshes serializes RefreshVolumes, so that the runtime gets the
	// refreshes of a group in the order they were stored.
	refreshes sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// group is the in-memory state of one container group.
type group struct {
	key, uid                string
	sub, rg, name, location string
	spec                    *aci.ContainerGroup // cleaned, without secrets
	specJSON                []byte              // spec as last persisted, for views
	ext                     groupext.Extensions // vnode's additions to the spec
	secrets                 *secretValues
	provisioning            string
	stopped                 bool
	status                  runtime.GroupStatus // the newest report applied
	events                  []store.Event
	created, updated        time.Time

	op       *store.Operation // the operation in flight, if any
	opCancel context.CancelFunc
	// share is what the group adds to the quota and capacity totals.
	share share
	// deleteGrace is the grace period the delete in flight was asked for
	// (not persisted: a delete resumed after a restart uses the default).
	deleteGrace time.Duration
}

// New returns a service; it does nothing until Start.
func New(o Options) *Service {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HeartbeatPeriod <= 0 {
		o.HeartbeatPeriod = 5 * time.Second
	}
	return &Service{
		cfg: o.Config, store: o.Store, rt: o.Runtime, sealer: o.Sealer, limiter: o.Limiter,
		clock: o.Clock, log: o.Logger, beat: o.HeartbeatPeriod,
		groups: map[string]*group{}, byUID: map[string]*group{}, acct: newAccounting(),
		updates: newUpdateQueue(), sessions: newSessions(o.Clock),
	}
}

// Open loads the persisted state, reconciles it with the runtime, resumes
// unfinished operations and starts following the runtime. It returns once
// the service can serve requests.
func (s *Service) Open(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.load(ctx); err != nil {
		return err
	}
	s.rt.Watch(s.ctx, s.updates.push)
	if err := s.reconcile(ctx); err != nil {
		return err
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.applyUpdates() }()
	go func() { defer s.wg.Done(); s.heartbeat() }()
	return nil
}

// Close stops background work. Groups keep running in the runtime;
// operations in flight are abandoned and resumed by the next Start.
func (s *Service) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.updates.close()
	s.wg.Wait()
}

// Key returns the map key of a group: ARM names are case-insensitive.
func Key(sub, rg, name string) string {
	return strings.ToLower(sub) + "/" + strings.ToLower(rg) + "/" + strings.ToLower(name)
}

// ResourceID returns a group's ARM resource id.
func ResourceID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + ResourceType + "/" + name
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", hex.EncodeToString(b[0:4]), hex.EncodeToString(b[4:6]),
		hex.EncodeToString(b[6:8]), hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}

// load reads every group from the store.
func (s *Service) load(ctx context.Context) error {
	recs, err := s.store.Groups(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		g, err := s.fromRecord(ctx, r)
		if err != nil {
			return fmt.Errorf("load group %s: %w", r.Key, err)
		}
		s.groups[g.key] = g
		s.byUID[g.uid] = g
		s.recount(g)
	}
	return nil
}

func (s *Service) fromRecord(ctx context.Context, r *store.Group) (*group, error) {
	g := &group{key: r.Key, uid: r.UID, sub: r.Subscription, rg: r.ResourceGroup, name: r.Name,
		location: r.Location, provisioning: r.ProvisioningState, stopped: r.Stopped,
		created: r.CreatedAt, updated: r.UpdatedAt, secrets: &secretValues{}}
	g.spec = &aci.ContainerGroup{}
	if err := json.Unmarshal(r.Spec, g.spec); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	g.specJSON = r.Spec
	ext, err := groupext.Parse(r.Spec)
	if err != nil {
		return nil, err
	}
	g.ext = ext
	if g.spec.Properties == nil {
		g.spec.Properties = &aci.ContainerGroupPropertiesProperties{}
	}
	if len(r.Secrets) > 0 {
		plain, err := s.sealer.Open(r.UID, r.Secrets)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(plain, g.secrets); err != nil {
			return nil, fmt.Errorf("decode secrets: %w", err)
		}
	}
	if len(r.Status) > 0 {
		if err := json.Unmarshal(r.Status, &g.status); err != nil {
			return nil, fmt.Errorf("decode status: %w", err)
		}
		// Generations order the reports of one runtime instance; the
		// runtime of this run counts afresh, and its reports must not be
		// taken for older than the last one saved.
		g.status.Generation = 0
	}
	events, err := s.store.Events(ctx, r.UID)
	if err != nil {
		return nil, err
	}
	g.events = events
	return g, nil
}

// specJSON encodes a group's spec with vnode's additions.
func specJSON(g *group) ([]byte, error) {
	spec, err := json.Marshal(g.spec)
	if err != nil {
		return nil, fmt.Errorf("encode spec of %s: %w", g.key, err)
	}
	return groupext.Apply(spec, groupext.Additions{Extensions: g.ext})
}

// persist writes a group's record after a change, and updates the quota
// and capacity totals. Callers hold s.mu.
func (s *Service) persist(ctx context.Context, g *group) error {
	s.recount(g)
	spec, err := specJSON(g)
	if err != nil {
		return err
	}
	g.specJSON = spec
	secrets, err := json.Marshal(g.secrets)
	if err != nil {
		return fmt.Errorf("encode secrets of %s: %w", g.key, err)
	}
	sealed, err := s.sealer.Seal(g.uid, secrets)
	if err != nil {
		return err
	}
	status, err := json.Marshal(g.status)
	if err != nil {
		return fmt.Errorf("encode status of %s: %w", g.key, err)
	}
	g.updated = s.clock.Now().UTC()
	return s.store.PutGroup(ctx, &store.Group{Key: g.key, UID: g.uid, Subscription: g.sub, ResourceGroup: g.rg,
		Name: g.name, Location: g.location, Spec: spec, Secrets: sealed, ProvisioningState: g.provisioning,
		Stopped: g.stopped, Status: status, CreatedAt: g.created, UpdatedAt: g.updated})
}

// heartbeat records every period that the service is up.
func (s *Service) heartbeat() {
	t := s.clock.NewTicker(s.beat)
	defer t.Stop()
	for {
		s.recordHeartbeat()
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (s *Service) recordHeartbeat() {
	now := store.UnixSeconds(s.clock.Now())
	if err := s.store.SetMeta(s.ctx, heartbeatKey, strconv.FormatInt(now, 10)); err != nil && s.ctx.Err() == nil {
		s.log.Warn("record heartbeat", "err", err)
	}
}

// lastHeartbeat returns the last recorded second the service was up (0 if never).
func (s *Service) lastHeartbeat(ctx context.Context) int64 {
	v, err := s.store.Meta(ctx, heartbeatKey)
	if err != nil || v == "" {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}
