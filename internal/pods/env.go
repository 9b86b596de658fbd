package pods

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/vnode-io/vnode/internal/backend"
)

// configError is a problem with what a pod references (a missing Secret,
// key or ConfigMap). The pod waits with the kubelet's
// CreateContainerConfigError until the reference appears.
type configError struct {
	message string
}

func (e *configError) Error() string { return e.message }

// configMessage returns the message of a configuration error: the
// resolver's *configError or a backend's *backend.ConfigError.
func configMessage(err error) (string, bool) {
	var ce *configError
	if errors.As(err, &ce) {
		return ce.message, true
	}
	var be *backend.ConfigError
	if errors.As(err, &be) {
		return be.Message, true
	}
	return "", false
}

// objectSource reads referenced objects.
type objectSource interface {
	secret(ctx context.Context, ns, name string) (*corev1.Secret, bool, error)
	configMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, bool, error)
}

// resolver turns a pod into a backend workload: each container's
// environment as the kubelet builds it, and the files of its volumes.
type resolver struct {
	objects  objectSource
	services corelisters.ServiceLister // nil: no service links
	// allocatable is the node's allocatable, the default for limits that
	// a container does not set.
	allocatable func() corev1.ResourceList
	// tokens mints projected service-account tokens; nil: none.
	tokens *tokenManager
	// recorder records events about what resolving left out; nil: none.
	recorder record.EventRecorder
	// hostIP is the node's InternalIP. The kubelet answers status.hostIP
	// and status.hostIPs from its node's addresses, so a new pod, whose
	// status has none yet, gets them too.
	hostIP string
}

// withHostIP returns pod, or a copy whose status has the node's IP when
// the pod's has none yet.
func (r *resolver) withHostIP(pod *corev1.Pod) *corev1.Pod {
	if r.hostIP == "" || pod.Status.HostIP != "" {
		return pod
	}
	view := *pod
	view.Status.HostIP = r.hostIP
	view.Status.HostIPs = []corev1.HostIP{{IP: r.hostIP}}
	return &view
}

// workload resolves pod. Errors are *configError for problems the user
// must fix, other errors for transient failures.
func (r *resolver) workload(ctx context.Context, pod *corev1.Pod) (*backend.Workload, error) {
	w := &backend.Workload{Pod: pod, Env: map[string][]backend.EnvVar{}}
	pod = r.withHostIP(pod)
	serviceEnv, err := r.serviceEnv(pod)
	if err != nil {
		return nil, err
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		env, err := r.containerEnv(ctx, pod, &c, serviceEnv)
		if err != nil {
			return nil, err
		}
		w.Env[c.Name] = env
	}
	if w.Volumes, err = r.volumes(ctx, pod); err != nil {
		return nil, err
	}
	if w.RegistryCredentials, err = r.registryCredentials(ctx, pod); err != nil {
		return nil, err
	}
	if w.VolumeSecrets, err = r.volumeSecrets(ctx, pod); err != nil {
		return nil, err
	}
	return w, nil
}

// containerEnv builds the environment in the kubelet's order: service
// links, then envFrom, then env, later ones overriding earlier ones, with
// $(VAR) references expanded against what is defined so far.
func (r *resolver) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, serviceEnv map[string]string) ([]backend.EnvVar, error) {
	vars := map[string]backend.EnvVar{}
	var order []string
	set := func(v backend.EnvVar) {
		if _, ok := vars[v.Name]; !ok {
			order = append(order, v.Name)
		}
		vars[v.Name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(serviceEnv)) {
		set(backend.EnvVar{Name: name, Value: serviceEnv[name]})
	}
	for _, from := range c.EnvFrom {
		values, secret, err := r.envFrom(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		var invalid []string
		for _, k := range slices.Sorted(maps.Keys(values)) {
			name := from.Prefix + k
			if len(validation.IsRelaxedEnvVarName(name)) > 0 {
				invalid = append(invalid, name)
				continue
			}
			set(backend.EnvVar{Name: name, Value: values[k], Secret: secret})
		}
		r.skippedKeys(pod, from, invalid)
	}
	lookup := func(name string) (string, bool, bool) {
		v, ok := vars[name]
		return v.Value, v.Secret, ok
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			value, secret := expand(e.Value, lookup)
			set(backend.EnvVar{Name: e.Name, Value: value, Secret: secret})
			continue
		}
		value, secret, ok, err := r.valueFrom(ctx, pod, c, e)
		if err != nil {
			return nil, err
		}
		if ok {
			set(backend.EnvVar{Name: e.Name, Value: value, Secret: secret, FieldPath: podIPField(e)})
		}
	}
	out := make([]backend.EnvVar, 0, len(order))
	for _, name := range order {
		out = append(out, vars[name])
	}
	return out, nil
}

// skippedKeys records that envFrom keys were left out because, prefixed,
// they are no environment variable names by Kubernetes' rule (the API
// server's since 1.34: printable ASCII but '='), with the event and message
// of the kubelets that skipped such keys. Keys and prefixes that the API
// server validated always make good names, so this guards against objects
// that it did not validate.
func (r *resolver) skippedKeys(pod *corev1.Pod, from corev1.EnvFromSource, names []string) {
	if len(names) == 0 || r.recorder == nil {
		return
	}
	kind, name := "configMap", ""
	switch {
	case from.ConfigMapRef != nil:
		name = from.ConfigMapRef.Name
	case from.SecretRef != nil:
		kind, name = "secret", from.SecretRef.Name
	}
	r.recorder.Eventf(pod, corev1.EventTypeWarning, reasonInvalidEnvironmentVariableNames,
		"Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
		strings.Join(names, ", "), kind, pod.Namespace, name)
}

// reasonInvalidEnvironmentVariableNames is the kubelet's event reason for
// envFrom keys skipped as variable names.
const reasonInvalidEnvironmentVariableNames = "InvalidEnvironmentVariableNames"

// podIPField returns the field path of a variable that holds the pod's IP,
// which a backend may only learn when it starts the pod.
func podIPField(e corev1.EnvVar) string {
	if f := e.ValueFrom.FieldRef; f != nil && (f.FieldPath == "status.podIP" || f.FieldPath == "status.podIPs") {
		return f.FieldPath
	}
	return ""
}

// envFrom reads a whole ConfigMap or Secret.
func (r *resolver) envFrom(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, bool, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, found, err := r.objects.configMap(ctx, ns, from.ConfigMapRef.Name)
		if err != nil {
			return nil, false, err
		}
		if !found {
			if ptrTrue(from.ConfigMapRef.Optional) {
				return nil, false, nil
			}
			return nil, false, &configError{fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
		}
		return cm.Data, false, nil
	case from.SecretRef != nil:
		s, found, err := r.objects.secret(ctx, ns, from.SecretRef.Name)
		if err != nil {
			return nil, true, err
		}
		if !found {
			if ptrTrue(from.SecretRef.Optional) {
				return nil, true, nil
			}
			return nil, true, &configError{fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
		}
		values := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			values[k] = string(v)
		}
		return values, true, nil
	}
	return nil, false, nil
}

// valueFrom resolves one env var's valueFrom; ok is false for an optional
// reference that does not resolve (the variable is then left out).
func (r *resolver) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar) (value string, secret, ok bool, err error) {
	from := e.ValueFrom
	switch {
	case from.FieldRef != nil:
		v, err := fieldValue(pod, from.FieldRef.FieldPath)
		return v, false, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := r.resourceValue(c, pod, from.ResourceFieldRef)
		return v, false, err == nil, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, found, err := r.objects.configMap(ctx, pod.Namespace, ref.Name)
		if err != nil {
			return "", false, false, err
		}
		if !found {
			if ptrTrue(ref.Optional) {
				return "", false, false, nil
			}
			return "", false, false, &configError{fmt.Sprintf("configmap %q not found", ref.Name)}
		}
		v, has := cm.Data[ref.Key]
		if !has {
			if b, hasBinary := cm.BinaryData[ref.Key]; hasBinary {
				return string(b), false, true, nil
			}
			if ptrTrue(ref.Optional) {
				return "", false, false, nil
			}
			return "", false, false, &configError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return v, false, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, found, err := r.objects.secret(ctx, pod.Namespace, ref.Name)
		if err != nil {
			return "", true, false, err
		}
		if !found {
			if ptrTrue(ref.Optional) {
				return "", true, false, nil
			}
			return "", true, false, &configError{fmt.Sprintf("secret %q not found", ref.Name)}
		}
		v, has := s.Data[ref.Key]
		if !has {
			if ptrTrue(ref.Optional) {
				return "", true, false, nil
			}
			return "", true, false, &configError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)}
		}
		return string(v), true, true, nil
	}
	return "", false, false, &configError{fmt.Sprintf("env var %s has an empty valueFrom", e.Name)}
}

// fieldValue resolves a downward-API field path.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.hostIPs":
		return joinIPs(pod.Status.HostIPs, func(ip corev1.HostIP) string { return ip.IP }), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		return joinIPs(pod.Status.PodIPs, func(ip corev1.PodIP) string { return ip.IP }), nil
	}
	return "", &configError{fmt.Sprintf("unsupported field path %q", path)}
}

func subscript(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"['") || !strings.HasSuffix(path, "']") {
		return "", false
	}
	return path[len(prefix)+2 : len(path)-2], true
}

func formatMap(m map[string]string) string {
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

func joinIPs[T any](ips []T, ip func(T) string) string {
	out := make([]string, len(ips))
	for i, v := range ips {
		out[i] = ip(v)
	}
	return strings.Join(out, ",")
}

// resourceValue resolves a resourceFieldRef: a limit or request of the
// named container (this one when unnamed) in units of the divisor,
// rounded up; unset limits default to the node's allocatable.
func (r *resolver) resourceValue(c *corev1.Container, pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = nil
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == ref.ContainerName {
				target = &pod.Spec.Containers[i]
			}
		}
		if target == nil {
			return "", &configError{fmt.Sprintf("resourceFieldRef names unknown container %q", ref.ContainerName)}
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", &configError{fmt.Sprintf("unsupported resource %q", ref.Resource)}
	}
	list := target.Resources.Limits
	if kind == "requests" {
		list = target.Resources.Requests
	}
	q, has := list[corev1.ResourceName(name)]
	if !has && kind == "limits" && r.allocatable != nil {
		q, has = r.allocatable()[corev1.ResourceName(name)]
	}
	if !has {
		q = resource.Quantity{}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
}

// serviceEnv returns the service-link variables: for every Service of the
// pod's namespace when enableServiceLinks is on, and always for the
// kubernetes Service of the default namespace.
func (r *resolver) serviceEnv(pod *corev1.Pod) (map[string]string, error) {
	env := map[string]string{}
	if r.services == nil {
		return env, nil
	}
	var services []*corev1.Service
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := r.services.Services(pod.Namespace).List(everything())
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		services = append(services, list...)
	}
	if pod.Namespace != "default" || (pod.Spec.EnableServiceLinks != nil && !*pod.Spec.EnableServiceLinks) {
		if svc, err := r.services.Services("default").Get("kubernetes"); err == nil {
			services = append(services, svc)
		}
	}
	for _, svc := range services {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		env[name+"_SERVICE_HOST"] = ip
		env[name+"_SERVICE_PORT"] = strconv.Itoa(int(svc.Spec.Ports[0].Port))
		for _, p := range svc.Spec.Ports {
			if p.Name != "" {
				env[name+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = strconv.Itoa(int(p.Port))
			}
		}
		first := svc.Spec.Ports[0]
		env[name+"_PORT"] = fmt.Sprintf("%s://%s:%d", strings.ToLower(string(first.Protocol)), ip, first.Port)
		for _, p := range svc.Spec.Ports {
			proto := strings.ToUpper(string(p.Protocol))
			prefix := fmt.Sprintf("%s_PORT_%d_%s", name, p.Port, proto)
			env[prefix] = fmt.Sprintf("%s://%s:%d", strings.ToLower(proto), ip, p.Port)
			env[prefix+"_PROTO"] = strings.ToLower(proto)
			env[prefix+"_PORT"] = strconv.Itoa(int(p.Port))
			env[prefix+"_ADDR"] = ip
		}
	}
	return env, nil
}

func ptrTrue(b *bool) bool { return b != nil && *b }
