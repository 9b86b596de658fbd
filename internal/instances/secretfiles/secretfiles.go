// Package secretfiles holds the rule for the names of a secret volume's
// files, which the service's validation and its runtime both apply: a name
// is a path relative to the volume, such as "config.yaml" or, as a
// Kubernetes item path may be, "path/to/data-2".
package secretfiles

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// ReservedPrefix starts the top-level names the runtime keeps for itself
// in a secret volume's directory ("..data" and the data directories).
const ReservedPrefix = ".."

// MaxElem is the longest element of a name that Linux file systems take.
const MaxElem = 255

// Rule says what CheckNames accepts, for error messages.
const Rule = "a file name must be a clean relative path (e.g. 'config.yaml' or 'path/to/config.yaml': " +
	"no empty, '.' or '..' element, no leading or trailing '/'), not start with '..' (the volume keeps " +
	"its own files there), have no element longer than 255 bytes, and not be the directory of another file"

// NameError says why a file name breaks the rule.
type NameError struct {
	Name    string
	Problem string
}

func (e *NameError) Error() string { return fmt.Sprintf("file name %q %s", e.Name, e.Problem) }

// CheckNames returns a *NameError for the first name of files, in sorted
// order, that breaks the rule, or nil.
func CheckNames[V any](files map[string]V) error {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if p := problem(name); p != "" {
			return &NameError{Name: name, Problem: p}
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := files[dir]; ok {
				return &NameError{Name: name, Problem: fmt.Sprintf("is below %q, which is a file", dir)}
			}
		}
	}
	return nil
}

func problem(name string) string {
	if name == "" || name == "." || name != path.Clean(name) || path.IsAbs(name) {
		return "is not a clean relative path"
	}
	if strings.HasPrefix(name, ReservedPrefix) {
		return fmt.Sprintf("starts with %q", ReservedPrefix)
	}
	for el := range strings.SplitSeq(name, "/") {
		switch {
		case el == "..":
			return "has a '..' element"
		case len(el) > MaxElem:
			return fmt.Sprintf("has an element longer than %d bytes", MaxElem)
		case strings.ContainsRune(el, 0):
			return "holds a NUL byte"
		}
	}
	return ""
}
