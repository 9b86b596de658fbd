package k8sbin

import (
	"os"
	"path/filepath"
)

// pinDir is where a vnode source tree keeps the control-plane pins.
const pinDir = "hack/controlplane"

// FindSource looks for hack/controlplane in each start directory and its
// parents, and returns the first found, or "" when there is none.
func FindSource(starts ...string) string {
	for _, start := range starts {
		if start == "" {
			continue
		}
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			candidate := filepath.Join(dir, pinDir)
			if _, err := os.Stat(filepath.Join(candidate, "kubernetes", "go.mod")); err == nil {
				return candidate
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}
