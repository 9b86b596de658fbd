// Package imageconfig reads what an image runs when a container gives it no
// command — its config's Entrypoint and Cmd — and as which user, from the
// image's registry, as a container runtime does before it starts a
// container. The ACI backend needs it against Azure, whose container groups
// have one command that replaces the image's entrypoint and arguments
// together: a pod that sets args without a command runs there as the
// image's entrypoint followed by the args. It also checks there that a
// container that must not run as root has an image whose user is not.
//
// A Resolver authenticates with the pod's image pull credentials (the
// credential whose server is the image's registry, else anonymously), picks
// the image of its platform from an index, and caches what it read: configs
// by digest, which never change, and the digest a tag names briefly, since
// a tag may be pushed again. Both caches are LRUs of bounded size; registry
// calls have a deadline, every response a size bound, and concurrent reads
// of one reference share one call. Errors never quote what a registry sent
// beyond its status and error codes.
package imageconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
	"k8s.io/utils/lru"

	"github.com/vnode-io/vnode/internal/backend"
)

// ErrBadReference marks an image reference that is not one: no registry
// will ever answer for it.
var ErrBadReference = errors.New("invalid image reference")

// Config is what an image runs by default.
type Config struct {
	// Entrypoint is the program and its first arguments; Cmd the further
	// arguments, which a container's args replace.
	Entrypoint, Cmd []string
	// User is the user the image runs as: a name or a uid, possibly
	// followed by ':' and a group; empty for root.
	User string
}

// Options configure a Resolver; the zero value has the defaults.
type Options struct {
	// Transport carries the registry requests; remote.DefaultTransport
	// when nil (the system's roots, proxies from the environment).
	Transport http.RoundTripper
	// Platform picks the image of an index: linux/amd64 when empty,
	// what container groups run.
	Platform v1.Platform
	// Timeout bounds the registry calls of one resolution (30 s).
	Timeout time.Duration
	// TagTTL is how long the digest a tag named is reused (1 min).
	TagTTL time.Duration
	// CacheSize bounds each cache, configs and tags (256 entries).
	CacheSize int
	// MaxResponseBytes bounds every response body read: manifests,
	// configs, tokens, errors (4 MiB).
	MaxResponseBytes int64
	// Logger receives the resolver's logs; nothing is logged when nil.
	Logger *slog.Logger
	// Clock times the tags' reuse; the real clock when nil.
	Clock clock.PassiveClock
}

// Resolver reads and caches image configs. It is safe for concurrent use.
type Resolver struct {
	o         Options
	log       *slog.Logger
	transport http.RoundTripper
	// configs maps digest and platform to Config; tags maps a tag
	// reference and the credential used to a tagEntry.
	configs, tags *lru.Cache
	flight        singleflight.Group
}

// tagEntry is the digest a tag named when it was read.
type tagEntry struct {
	digest v1.Hash
	at     time.Time
}

// New returns a resolver with o's settings.
func New(o Options) *Resolver {
	if o.Transport == nil {
		o.Transport = remote.DefaultTransport
	}
	if o.Platform.OS == "" {
		o.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.TagTTL <= 0 {
		o.TagTTL = time.Minute
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 256
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Resolver{o: o, log: o.Logger, transport: limitedTransport{next: o.Transport, max: o.MaxResponseBytes},
		configs: lru.New(o.CacheSize), tags: lru.New(o.CacheSize)}
}

// Resolve returns the config of image, read with the credential of creds
// whose server is the image's registry. Errors wrap ErrBadReference when
// image is no reference; the others (an unreachable registry, refused
// credentials, an image that is not there yet) may pass.
func (r *Resolver) Resolve(ctx context.Context, image string, creds []backend.RegistryCredential) (Config, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return Config{}, fmt.Errorf("%w %q: %w", ErrBadReference, image, err)
	}
	auth, identity := credentialFor(ref.Context().RegistryStr(), creds)
	// The tag's digest is the credential's to see: one pod's secret does
	// not answer for another's.
	key := ref.Name() + "\x00" + identity
	ch := r.flight.DoChan(key, func() (any, error) {
		// Shared by every caller waiting for key: no one caller's
		// cancellation ends it, the deadline does.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.Timeout)
		defer cancel()
		return r.read(ctx, ref, auth, key)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return Config{}, fmt.Errorf("read the config of image %s: %w", image, describe(res.Err))
		}
		c := res.Val.(Config)
		return Config{Entrypoint: slices.Clone(c.Entrypoint), Cmd: slices.Clone(c.Cmd), User: c.User}, nil
	case <-ctx.Done():
		return Config{}, fmt.Errorf("read the config of image %s: %w", image, ctx.Err())
	}
}

// read resolves ref to a digest and that digest to a config, from the
// caches when they have them.
func (r *Resolver) read(ctx context.Context, ref name.Reference, auth authn.Authenticator, tagKey string) (Config, error) {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(r.transport),
		remote.WithPlatform(r.o.Platform)}
	digest, err := r.digest(ref, tagKey, opts)
	if err != nil {
		return Config{}, err
	}
	configKey := digest.String() + "\x00" + r.o.Platform.String()
	if v, ok := r.configs.Get(configKey); ok {
		return v.(Config), nil
	}
	img, err := remote.Image(ref.Context().Digest(digest.String()), opts...)
	if err != nil {
		return Config{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Config{}, err
	}
	c := Config{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, User: cf.Config.User}
	r.configs.Add(configKey, c)
	r.log.Debug("read image config", "image", ref.Name(), "digest", digest.String(), "entrypoint", c.Entrypoint, "cmd", c.Cmd)
	return c, nil
}

// digest is the digest ref names: its own, or the one its tag named
// within TagTTL, or what the registry answers now.
func (r *Resolver) digest(ref name.Reference, tagKey string, opts []remote.Option) (v1.Hash, error) {
	if d, ok := ref.(name.Digest); ok {
		return v1.NewHash(d.DigestStr())
	}
	now := r.o.Clock.Now()
	if v, ok := r.tags.Get(tagKey); ok {
		if e := v.(tagEntry); now.Sub(e.at) < r.o.TagTTL {
			return e.digest, nil
		}
		r.tags.Remove(tagKey)
	}
	desc, err := remote.Head(ref, opts...)
	var answered *transport.Error
	if errors.As(err, &answered) {
		// Some registries answer HEAD of a manifest wrongly; a pull
		// GETs it, and the answer to a GET says more.
		got, gerr := remote.Get(ref, opts...)
		if gerr != nil {
			return v1.Hash{}, gerr
		}
		desc, err = &got.Descriptor, nil
	}
	if err != nil {
		return v1.Hash{}, err
	}
	r.tags.Add(tagKey, tagEntry{digest: desc.Digest, at: now})
	return desc.Digest, nil
}

// credentialFor returns the authenticator for registry from creds and an
// identity of the credential (a digest, "" for anonymous access).
func credentialFor(registry string, creds []backend.RegistryCredential) (authn.Authenticator, string) {
	for _, c := range creds {
		if !sameRegistry(c.Server, registry) {
			continue
		}
		sum := sha256.Sum256([]byte(c.Server + "\x00" + c.Username + "\x00" + c.Password))
		return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), hex.EncodeToString(sum[:])
	}
	return authn.Anonymous, ""
}

// sameRegistry reports whether a credential's server is registry.
func sameRegistry(server, registry string) bool {
	if strings.EqualFold(server, registry) {
		return true
	}
	return dockerHub(server) && dockerHub(registry)
}

// dockerHub reports whether host is one of the names of Docker Hub's registry.
func dockerHub(host string) bool {
	switch strings.ToLower(host) {
	case name.DefaultRegistry, "docker.io", "registry-1.docker.io":
		return true
	}
	return false
}
