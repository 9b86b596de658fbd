package pods

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend"
)

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	Client   kubernetes.Interface
	Backend  backend.Backend
	NodeName string
	// HostIP is written as the pods' hostIP.
	HostIP string
	// Workers process the queue in parallel; 32 when zero.
	Workers int
	// OrphanGrace is how old a backend workload without a pod must be
	// before it is deleted, so that creates in flight are left alone;
	// 30s when zero.
	OrphanGrace time.Duration
	// GCInterval is how often orphans are looked for; 30s when zero.
	GCInterval time.Duration
	// Allocatable returns the node's allocatable resources, the default
	// for limits a container does not set.
	Allocatable func() corev1.ResourceList
	// TokenMaxAge is how old a projected service-account token may grow
	// before it is replaced; DefaultTokenMaxAge when zero.
	TokenMaxAge time.Duration
	Recorder    record.EventRecorder
	Metrics     *Metrics
	// Clock drives the controller's timers and the work queue's delays
	// (back-off, and pods queued again for a token or a deadline); the
	// real clock when nil.
	Clock clock.WithTicker
	// Logger receives the controller's logs; they are discarded when nil.
	Logger *slog.Logger
}

func (c *ControllerConfig) defaults() error {
	if c.Client == nil || c.Backend == nil || c.NodeName == "" || c.Recorder == nil {
		return errors.New("pods: Client, Backend, NodeName and Recorder are required")
	}
	if c.Workers == 0 {
		c.Workers = 32
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = 30 * time.Second
	}
	if c.GCInterval == 0 {
		c.GCInterval = 30 * time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Controller drives the pods bound to one node through a backend.
type Controller struct {
	cfg      ControllerConfig
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	services informers.SharedInformerFactory
	pods     corelisters.PodLister
	podIndex cache.Indexer
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	refs     *refManager
	resolver *resolver

	// mu guards records, byKey and every record's fields. No call to the
	// backend or the API is made while holding it.
	mu sync.Mutex
	// records holds what is kept about each pod and each workload the
	// backend runs, by UID; forget releases it with all the rest.
	records map[types.UID]*podRecord
	// byKey maps pod keys to the UID last seen, to find the workload of a
	// pod that has vanished from the API or whose name a new pod took.
	// Its entries always have a record with the same key.
	byKey map[string]types.UID
}

const uidIndex = "uid"

// NewController builds a controller; Run starts it.
func NewController(cfg ControllerConfig) (*Controller, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Controller{
		cfg: cfg,
		log: cfg.Logger,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			// Per-item exponential back-off only: a global token bucket
			// would throttle a burst of healthy pods.
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 5*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pods", MetricsProvider: cfg.Metrics, Clock: cfg.Clock},
		),
		records: map[types.UID]*podRecord{},
		byKey:   map[string]types.UID{},
	}
	c.factory = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	podInformer := c.factory.Core().V1().Pods()
	if err := podInformer.Informer().AddIndexers(cache.Indexers{uidIndex: func(obj any) ([]string, error) {
		return []string{string(obj.(*corev1.Pod).UID)}, nil
	}}); err != nil {
		return nil, fmt.Errorf("pods: %w", err)
	}
	_, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("pods: %w", err)
	}
	c.pods = podInformer.Lister()
	c.podIndex = podInformer.Informer().GetIndexer()
	// Services feed the service-link variables, as the kubelet's do.
	c.services = informers.NewSharedInformerFactory(cfg.Client, 0)
	serviceInformer := c.services.Core().V1().Services()
	c.synced = []cache.InformerSynced{podInformer.Informer().HasSynced, serviceInformer.Informer().HasSynced}
	c.refs = newRefManager(cfg.Client, func(key string) { c.queue.Add(key) })
	c.resolver = &resolver{objects: c.refs, services: serviceInformer.Lister(), allocatable: cfg.Allocatable, hostIP: cfg.HostIP,
		tokens: newTokenManager(cfg.Client, cfg.Clock, cfg.TokenMaxAge), recorder: cfg.Recorder}
	return c, nil
}

// enqueue adds the key of a pod (or of a deleted pod's tombstone).
func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

// Run adopts what the backend already runs, starts the informers and
// workers, and blocks until ctx ends; then it stops taking work, lets the
// workers finish their current item, and returns.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	defer c.refs.stopAll()
	if err := c.adoptWithRetry(ctx); err != nil {
		return err
	}
	c.cfg.Backend.Subscribe(ctx, c.onBackendState)
	c.factory.Start(ctx.Done())
	c.services.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("pods: informers did not sync: %w", ctx.Err())
	}
	c.log.Info("pod controller started", "node", c.cfg.NodeName, "workers", c.cfg.Workers, "adopted", c.stateCount())
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { c.runGC(ctx) })
	wg.Go(func() { c.reportPhases(ctx) })
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	c.factory.Shutdown()
	c.services.Shutdown()
	return nil
}

// adoptWithRetry adopts the backend's workloads, retrying with back-off
// (1 s up to 30 s) while the backend cannot list them: starting without
// them would create every workload again.
func (c *Controller) adoptWithRetry(ctx context.Context) error {
	delay := time.Second
	for {
		err := c.adopt(ctx)
		if err == nil {
			return nil
		}
		c.log.Warn("cannot adopt the backend's workloads yet; retrying", "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-c.cfg.Clock.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// adopt loads the state of every workload the backend runs, so that a
// restarted agent neither creates them again nor loses their status.
func (c *Controller) adopt(ctx context.Context) error {
	states, err := c.cfg.Backend.List(ctx)
	if err != nil {
		return fmt.Errorf("pods: list the backend's workloads: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range states {
		key := st.Namespace + "/" + st.Name
		c.recordLocked(st.UID, key).state = st
		c.byKey[key] = st.UID
	}
	return nil
}

// onBackendState stores a pushed state, records its events and queues the
// pod. It runs on the backend's delivery goroutine and never blocks.
func (c *Controller) onBackendState(st *backend.PodState) {
	c.recordEvents(st)
	st.Events = nil
	key := st.Namespace + "/" + st.Name
	c.mu.Lock()
	rec := c.recordLocked(st.UID, key)
	rec.state, rec.awaitingPush = st, false
	c.mu.Unlock()
	c.queue.Add(key)
}

// processNext handles one key: forget it on success, re-add it with
// back-off on a retryable failure.
func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	start := c.cfg.Clock.Now()
	err := c.sync(ctx, key)
	c.cfg.Metrics.syncDuration.Observe(c.cfg.Clock.Since(start).Seconds())
	if err == nil {
		c.queue.Forget(key)
		return true
	}
	if ctx.Err() == nil {
		c.log.Warn("pod sync failed; retrying", "pod", key, "retries", c.queue.NumRequeues(key), "err", err)
		c.cfg.Metrics.syncErrors.Inc()
	}
	c.queue.AddRateLimited(key)
	return true
}

// reportPhases samples the pods' phases for the metrics every second.
func (c *Controller) reportPhases(ctx context.Context) {
	c.every(ctx, time.Second, c.countPhases)
}

// every calls fn every interval on the controller's clock until ctx ends.
func (c *Controller) every(ctx context.Context, interval time.Duration, fn func()) {
	t := c.cfg.Clock.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			fn()
			t.Reset(interval)
		}
	}
}

// countPhases updates the pods-by-phase gauge from the informer's store.
func (c *Controller) countPhases() {
	pods, err := c.pods.List(everything())
	if err != nil {
		return
	}
	counts := map[corev1.PodPhase]int{}
	for _, p := range pods {
		counts[p.Status.Phase]++
	}
	for _, phase := range []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown} {
		c.cfg.Metrics.podsByPhase.WithLabelValues(string(phase)).Set(float64(counts[phase]))
	}
}
