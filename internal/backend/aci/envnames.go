package aci

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// aciEnvName is ACI's rule for environment variable names: a letter or
// '_', then letters, digits and '_'. Kubernetes allows more (any printable
// ASCII but '='), and so does vnode's service, which says so with its
// env-names extension.
var aciEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxRefusedEnvNames is how many refused names an error lists.
const maxRefusedEnvNames = 5

// checkACIEnvNames refuses a workload whose resolved environment has names
// that ACI's rule refuses, naming each (up to maxRefusedEnvNames) with its
// container: against Azure the PUT would fail on them anyway, with a message
// that names neither.
func checkACIEnvNames(w *backend.Workload) error {
	var refused []string
	total := 0
	check := func(kind string, cs []corev1.Container) {
		for _, c := range cs {
			for _, e := range w.Env[c.Name] {
				if aciEnvName.MatchString(e.Name) {
					continue
				}
				if total++; total <= maxRefusedEnvNames {
					refused = append(refused, fmt.Sprintf("%q in %s %q", e.Name, kind, c.Name))
				}
			}
		}
	}
	check("init container", w.Pod.Spec.InitContainers)
	check("container", w.Pod.Spec.Containers)
	if total == 0 {
		return nil
	}
	list := strings.Join(refused, ", ")
	if more := total - len(refused); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Errorf("container instances refuse the environment variable names %s: they take a letter or '_' "+
		"followed by letters, digits and '_' (vnode's service takes Kubernetes' names, with its env-names extension)", list)
}
