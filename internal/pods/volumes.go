package pods

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vnode-io/vnode/internal/backend"
)

func everything() labels.Selector { return labels.Everything() }

// volumes returns the files of each ConfigMap, Secret, downward-API and
// projected volume, service-account tokens included (minted on demand);
// other volume types carry no files.
func (r *resolver) volumes(ctx context.Context, pod *corev1.Pod) (map[string][]backend.File, error) {
	pod = r.withHostIP(pod)
	out := map[string][]backend.File{}
	for _, v := range pod.Spec.Volumes {
		var files []backend.File
		var err error
		switch {
		case v.ConfigMap != nil:
			files, err = r.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, mode(v.ConfigMap.DefaultMode))
		case v.Secret != nil:
			files, err = r.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, mode(v.Secret.DefaultMode))
		case v.DownwardAPI != nil:
			files, err = r.downwardFiles(pod, v.DownwardAPI.Items, mode(v.DownwardAPI.DefaultMode))
		case v.Projected != nil:
			files, err = r.projectedFiles(ctx, pod, v.Projected)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		out[v.Name] = files
	}
	return out, nil
}

func mode(m *int32) int32 {
	if m == nil {
		return corev1.ConfigMapVolumeSourceDefaultMode
	}
	return *m
}

func (r *resolver) configMapFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, defaultMode int32) ([]backend.File, error) {
	cm, found, err := r.objects.configMap(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if !found {
		if ptrTrue(optional) {
			return nil, nil
		}
		return nil, &configError{fmt.Sprintf("configmap %q not found", name)}
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return keyFiles(data, items, optional, defaultMode, false, "ConfigMap "+ns+"/"+name)
}

func (r *resolver) secretFiles(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, defaultMode int32) ([]backend.File, error) {
	s, found, err := r.objects.secret(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	if !found {
		if ptrTrue(optional) {
			return nil, nil
		}
		return nil, &configError{fmt.Sprintf("secret %q not found", name)}
	}
	return keyFiles(s.Data, items, optional, defaultMode, true, "Secret "+ns+"/"+name)
}

// keyFiles projects data onto files: every key, or only the listed items
// with their paths and modes.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, optional *bool, defaultMode int32, secret bool, what string) ([]backend.File, error) {
	var files []backend.File
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			files = append(files, backend.File{Path: k, Data: data[k], Mode: defaultMode, Secret: secret})
		}
		return files, nil
	}
	for _, item := range items {
		v, ok := data[item.Key]
		if !ok {
			if ptrTrue(optional) {
				continue
			}
			return nil, &configError{fmt.Sprintf("couldn't find key %s in %s", item.Key, what)}
		}
		m := defaultMode
		if item.Mode != nil {
			m = *item.Mode
		}
		files = append(files, backend.File{Path: path.Clean(item.Path), Data: v, Mode: m, Secret: secret})
	}
	return files, nil
}

// downwardFiles are the files of downward-API items; a limit a container
// leaves unset is the node's allocatable, as in environment variables.
func (r *resolver) downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode int32) ([]backend.File, error) {
	var files []backend.File
	for _, item := range items {
		m := defaultMode
		if item.Mode != nil {
			m = *item.Mode
		}
		var value string
		switch {
		case item.FieldRef != nil:
			v, err := fieldValue(pod, item.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			value = v
		case item.ResourceFieldRef != nil:
			c := containerNamed(pod, item.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, &configError{fmt.Sprintf("downward API file %s names unknown container %q", item.Path, item.ResourceFieldRef.ContainerName)}
			}
			v, err := r.resourceValue(c, pod, item.ResourceFieldRef)
			if err != nil {
				return nil, err
			}
			value = v
		}
		files = append(files, backend.File{Path: path.Clean(item.Path), Data: []byte(value), Mode: m})
	}
	return files, nil
}

func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

func (r *resolver) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) ([]backend.File, error) {
	defaultMode := mode(p.DefaultMode)
	var files []backend.File
	for _, s := range p.Sources {
		var more []backend.File
		var err error
		switch {
		case s.ConfigMap != nil:
			more, err = r.configMapFiles(ctx, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, defaultMode)
		case s.Secret != nil:
			more, err = r.secretFiles(ctx, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, defaultMode)
		case s.DownwardAPI != nil:
			more, err = r.downwardFiles(pod, s.DownwardAPI.Items, defaultMode)
		case s.ServiceAccountToken != nil:
			more, err = r.tokenFile(ctx, pod, s.ServiceAccountToken, defaultMode)
		}
		if err != nil {
			return nil, err
		}
		files = append(files, more...)
	}
	return files, nil
}

// tokenFile is a projected service-account token.
func (r *resolver) tokenFile(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, defaultMode int32) ([]backend.File, error) {
	if r.tokens == nil {
		return nil, fmt.Errorf("service-account token %s: no token source", src.Path)
	}
	t, err := r.tokens.get(ctx, pod, src)
	if err != nil {
		return nil, err
	}
	return []backend.File{{Path: path.Clean(src.Path), Data: []byte(t), Mode: defaultMode, Secret: true}}, nil
}
