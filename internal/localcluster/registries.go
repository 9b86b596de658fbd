package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/vnode-io/vnode/internal/images"
	"github.com/vnode-io/vnode/internal/pki"
	"github.com/vnode-io/vnode/internal/registry"
)

// The local registries: one open, one with htpasswd authentication (for
// trying imageRegistryCredentials and imagePullSecrets). Both serve vnode's
// images, pushed at every start.
const (
	registryName        = "registry"
	privateRegistryName = "registry-private"
	// registryUser is the private registry's user; its password is
	// generated once per state directory.
	registryUser = "vnode"
)

// Registries tells clients where the local registries are and what they
// hold; `vnode up` writes it to DIR/registry/registries.json (mode 0600:
// it holds the private registry's password).
type Registries struct {
	// Open is the open registry's host:port.
	Open string `json:"open"`
	// Private is the host:port of the registry that wants Username and Password.
	Private  string `json:"private"`
	Username string `json:"username"`
	Password string `json:"password"`
	// Images name vnode's images in the open registry; the same
	// repositories and tags are in the private one.
	Images ImageRefs `json:"images"`
}

// ImageRefs are references to vnode's images.
type ImageRefs struct {
	Pause   string `json:"pause"`
	Hello   string `json:"hello"`
	Shell   string `json:"shell"`
	CoreDNS string `json:"coredns"`
}

// ReadRegistries reads what `vnode up` wrote about the registries of the
// cluster in stateDir.
func ReadRegistries(stateDir string) (Registries, error) {
	var r Registries
	data, err := os.ReadFile(layout{stateDir}.registriesFile())
	if err != nil {
		return r, fmt.Errorf("read the local registries' description: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("broken registries description: %w", err)
	}
	return r, nil
}

// registries returns the description of the cluster's registries.
func registries(cfg Config, password string) Registries {
	open := "127.0.0.1:" + strconv.Itoa(cfg.Ports.Registry)
	ref := func(repo string) string { return open + "/" + repo + ":" + images.Tag }
	return Registries{Open: open, Private: "127.0.0.1:" + strconv.Itoa(cfg.Ports.PrivateRegistry),
		Username: registryUser, Password: password,
		Images: ImageRefs{Pause: ref(images.PauseRepository), Hello: ref(images.HelloRepository), Shell: ref(images.ShellRepository),
			CoreDNS: ref(images.CoreDNSRepository)}}
}

// registryConfigs are the two registries' configurations.
func registryConfigs(l layout, cfg Config, password string) (open, private registry.Config) {
	open = registry.Config{Dir: l.registryDir(registryName), Addr: "127.0.0.1:" + strconv.Itoa(cfg.Ports.Registry)}
	private = registry.Config{Dir: l.registryDir(privateRegistryName), Addr: "127.0.0.1:" + strconv.Itoa(cfg.Ports.PrivateRegistry),
		Username: registryUser, Password: password}
	return open, private
}

// registryComponent runs a registry whose files writeRegistryFiles wrote.
func registryComponent(name string, rc registry.Config, port int, private bool) component {
	status := 200
	if private {
		status = 401
	}
	return component{
		name:   name,
		binary: registry.DefaultBinary,
		args:   rc.Args(),
		probe:  probe{url: "http://127.0.0.1:" + strconv.Itoa(port) + "/v2/", status: status},
	}
}

// writeRegistryFiles writes both registries' configurations and the
// description clients read, generating the private registry's password once.
func writeRegistryFiles(ctx context.Context, l layout, cfg Config) error {
	password, err := ensureSecretFile(l.registryPassword(), func() string { return randomString(18) })
	if err != nil {
		return err
	}
	open, private := registryConfigs(l, cfg, password)
	for _, rc := range []registry.Config{open, private} {
		if err := registry.WriteFiles(ctx, rc); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(registries(cfg, password), "", "  ")
	if err != nil {
		return fmt.Errorf("encode the registries' description: %w", err)
	}
	return pki.WriteFile(l.registriesFile(), append(data, '\n'), 0o600)
}

// seedImages builds vnode's images (compiled programs are cached) and
// pushes them to the open registry, and those that tests pull with
// credentials to the private one too; pushing what a registry already has
// costs a manifest check per image.
func (c *Cluster) seedImages(ctx context.Context) error {
	began := time.Now()
	regs, err := ReadRegistries(c.layout.root)
	if err != nil {
		return err
	}
	b := images.Builder{CacheDir: c.cfg.ImageCacheDir}
	private := &authn.Basic{Username: regs.Username, Password: regs.Password}
	for _, img := range []struct {
		repo    string
		build   func(context.Context) (v1.Image, error)
		private bool
	}{{images.PauseRepository, b.Pause, true}, {images.HelloRepository, b.Hello, true}, {images.ShellRepository, b.Shell, true},
		{images.CoreDNSRepository, b.CoreDNS, false}} {
		built, err := img.build(ctx)
		if err != nil {
			return fmt.Errorf("build image %s: %w", img.repo, err)
		}
		tag := img.repo + ":" + images.Tag
		if err := images.Push(ctx, built, regs.Open+"/"+tag, authn.Anonymous, true); err != nil {
			return err
		}
		if !img.private {
			continue
		}
		if err := images.Push(ctx, built, regs.Private+"/"+tag, private, true); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.cfg.Out, "%-24s pushed in %-6s to %s and %s\n", "images", time.Since(began).Round(100*time.Millisecond),
		regs.Open, regs.Private)
	return nil
}
