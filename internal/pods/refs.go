package pods

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/vnode-io/vnode/internal/backend"
)

// refKind is the kind of an object that pods reference.
type refKind string

const (
	kindSecret    refKind = "Secret"
	kindConfigMap refKind = "ConfigMap"
)

// refKey names a referenced object.
type refKey struct {
	kind      refKind
	namespace string
	name      string
}

// refManager watches exactly the Secrets and ConfigMaps that the pods on
// this node reference, one single-object watch per object shared by every
// pod that references it, as the kubelet's watch-based manager does. That
// is also all the Node authorizer lets a node read.
type refManager struct {
	client   kubernetes.Interface
	onChange func(podKey string)
	// syncTimeout bounds the wait for a new watch's first list.
	syncTimeout time.Duration

	mu      sync.Mutex
	objects map[refKey]*watchedObject
	byPod   map[types.UID][]refKey
}

type watchedObject struct {
	store  cache.Store
	synced cache.InformerSynced
	stop   chan struct{}
	pods   map[types.UID]string // uid → pod key
}

func newRefManager(client kubernetes.Interface, onChange func(string)) *refManager {
	return &refManager{
		client: client, onChange: onChange, syncTimeout: 10 * time.Second,
		objects: map[refKey]*watchedObject{}, byPod: map[types.UID][]refKey{},
	}
}

// track records the references of pod, starting watches for new objects
// and stopping those that no pod references any more.
func (m *refManager) track(pod *corev1.Pod, podKey string) {
	want := podRefs(pod)
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.byPod[pod.UID]
	for _, k := range want {
		obj, ok := m.objects[k]
		if !ok {
			obj = m.watchLocked(k)
			m.objects[k] = obj
		}
		obj.pods[pod.UID] = podKey
	}
	m.byPod[pod.UID] = want
	m.releaseLocked(pod.UID, old, want)
}

// forget drops every reference of the pod with uid.
func (m *refManager) forget(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseLocked(uid, m.byPod[uid], nil)
	delete(m.byPod, uid)
}

func (m *refManager) releaseLocked(uid types.UID, old, keep []refKey) {
	kept := map[refKey]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	for _, k := range old {
		obj, ok := m.objects[k]
		if !ok || kept[k] {
			continue
		}
		delete(obj.pods, uid)
		if len(obj.pods) == 0 {
			close(obj.stop)
			delete(m.objects, k)
		}
	}
}

// watchLocked starts a watch on the single object k.
func (m *refManager) watchLocked(k refKey) *watchedObject {
	var lw *cache.ListWatch
	var example runtime.Object
	switch k.kind {
	case kindSecret:
		example = &corev1.Secret{}
		secrets := m.client.CoreV1().Secrets(k.namespace)
		lw = nameListWatch(k.name,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return secrets.List(ctx, o) },
			secrets.Watch)
	default:
		example = &corev1.ConfigMap{}
		configMaps := m.client.CoreV1().ConfigMaps(k.namespace)
		lw = nameListWatch(k.name,
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				return configMaps.List(ctx, o)
			},
			configMaps.Watch)
	}
	obj := &watchedObject{stop: make(chan struct{}), pods: map[types.UID]string{}}
	notify := func(any) { m.notify(k) }
	store, controller := cache.NewInformerWithOptions(cache.InformerOptions{
		// The wrapper lets clients that cannot stream lists (the fake
		// clientset) say so; the API server streams them.
		ListerWatcher: cache.ToListWatcherWithWatchListSemantics(lw, m.client),
		ObjectType:    example,
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    notify,
			UpdateFunc: func(_, _ any) { m.notify(k) },
			DeleteFunc: notify,
		},
	})
	obj.store, obj.synced = store, controller.HasSynced
	go controller.Run(obj.stop)
	return obj
}

// nameListWatch lists and watches the one object called name.
func nameListWatch(name string,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) *cache.ListWatch {
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return watchFn(ctx, o)
		},
	}
}

// notify requeues every pod that references k.
func (m *refManager) notify(k refKey) {
	m.mu.Lock()
	var keys []string
	if obj, ok := m.objects[k]; ok {
		for _, key := range obj.pods {
			keys = append(keys, key)
		}
	}
	m.mu.Unlock()
	for _, key := range keys {
		m.onChange(key)
	}
}

// get returns the object k from its watch, waiting for the watch's first
// list if it has just started. found is false when the object does not
// exist.
func (m *refManager) get(ctx context.Context, k refKey) (obj any, found bool, err error) {
	m.mu.Lock()
	w, ok := m.objects[k]
	m.mu.Unlock()
	if !ok {
		return nil, false, fmt.Errorf("%s %s/%s is not tracked", k.kind, k.namespace, k.name)
	}
	if !w.synced() {
		ctx, cancel := context.WithTimeout(ctx, m.syncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
			return nil, false, fmt.Errorf("cannot read %s %s/%s yet (no answer to its watch within %s)", k.kind, k.namespace, k.name, m.syncTimeout)
		}
	}
	obj, found, err = w.store.GetByKey(k.namespace + "/" + k.name)
	if err != nil {
		return nil, false, fmt.Errorf("read %s %s/%s: %w", k.kind, k.namespace, k.name, err)
	}
	return obj, found, nil
}

func (m *refManager) secret(ctx context.Context, ns, name string) (*corev1.Secret, bool, error) {
	obj, found, err := m.get(ctx, refKey{kindSecret, ns, name})
	if !found || err != nil {
		return nil, false, err
	}
	return obj.(*corev1.Secret), true, nil
}

func (m *refManager) configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, bool, error) {
	obj, found, err := m.get(ctx, refKey{kindConfigMap, ns, name})
	if !found || err != nil {
		return nil, false, err
	}
	return obj.(*corev1.ConfigMap), true, nil
}

// stopAll ends every watch.
func (m *refManager) stopAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, obj := range m.objects {
		close(obj.stop)
		delete(m.objects, k)
	}
	m.byPod = map[types.UID][]refKey{}
}

// podRefs lists the Secrets and ConfigMaps a pod references, without
// duplicates.
func podRefs(pod *corev1.Pod) []refKey {
	seen := map[refKey]bool{}
	var out []refKey
	add := func(kind refKind, name string) {
		k := refKey{kind, pod.Namespace, name}
		if name != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		add(kindSecret, s.Name)
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				add(kindSecret, e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				add(kindConfigMap, e.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add(kindSecret, r.Name)
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add(kindConfigMap, r.Name)
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		if name, _, ok := backend.CredentialSecret(v); ok {
			add(kindSecret, name)
		}
		switch {
		case v.Secret != nil:
			add(kindSecret, v.Secret.SecretName)
		case v.ConfigMap != nil:
			add(kindConfigMap, v.ConfigMap.Name)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					add(kindSecret, s.Secret.Name)
				}
				if s.ConfigMap != nil {
					add(kindConfigMap, s.ConfigMap.Name)
				}
			}
		}
	}
	return out
}
