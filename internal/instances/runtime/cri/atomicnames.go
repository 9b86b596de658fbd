package cri

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/secretfiles"
)

// checkFileNames refuses names writeAtomic cannot write as a tree beneath
// its directory (secretfiles.CheckNames).
func checkFileNames(files map[string][]byte) error {
	if err := secretfiles.CheckNames(files); err != nil {
		return fmt.Errorf("%w: %w", errBadFileName, err)
	}
	return nil
}

// topNames are the first elements of the names of files, sorted: what the
// writer links at the top of its directory, each to "..data/<name>".
func topNames(files map[string][]byte) []string {
	tops := map[string]bool{}
	for name := range files {
		top, _, _ := strings.Cut(name, "/")
		tops[top] = true
	}
	return slices.Sorted(maps.Keys(tops))
}

// parentDirs are the directories that the names of files pass through,
// each before its subdirectories.
func parentDirs(files map[string][]byte) []string {
	dirs := map[string]bool{}
	for name := range files {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			dirs[dir] = true
		}
	}
	return slices.Sorted(maps.Keys(dirs)) // "a" sorts before "a/b"
}
