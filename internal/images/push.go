package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads img to the registry as ref (for example
// "127.0.0.1:5000/vnode/pause:1"). auth may be nil for anonymous access.
// insecure allows plain HTTP, for registries on loopback. The pushed content
// is addressed by img.Digest(): ref's repository at that digest.
func Push(ctx context.Context, img v1.Image, ref string, auth authn.Authenticator, insecure bool) error {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return fmt.Errorf("images: push %s: %w", ref, err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return fmt.Errorf("images: push %s: %w", ref, err)
	}
	return nil
}
