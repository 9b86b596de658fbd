package cri

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// privateImages remembers the images pulled with credentials, so that a
// group without credentials for one is not given the cached copy: the
// pull is checked with the registry again (ACI authorizes every group's
// pull; a kubelet does so with KubeletEnsureSecretPulledImages). The set
// is kept in a file, so a restart of the service does not forget it.
type privateImages struct {
	path string
	mu   sync.Mutex
	refs map[string]bool
}

func loadPrivateImages(dir string) (*privateImages, error) {
	p := &privateImages{path: filepath.Join(dir, "private-images.json"), refs: map[string]bool{}}
	data, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the private images: %w", err)
	}
	var refs []string
	if err := json.Unmarshal(data, &refs); err != nil {
		return nil, fmt.Errorf("read the private images %s: %w", p.path, err)
	}
	for _, r := range refs {
		p.refs[r] = true
	}
	return p, nil
}

// has reports whether ref was pulled with credentials.
func (p *privateImages) has(ref string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refs[ref]
}

// add records ref as pulled with credentials.
func (p *privateImages) add(ref string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs[ref] {
		return nil
	}
	p.refs[ref] = true
	refs := make([]string, 0, len(p.refs))
	for r := range p.refs {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("record a private image: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("record a private image: %w", err)
	}
	return nil
}
