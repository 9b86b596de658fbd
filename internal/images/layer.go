package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the time of every file, layer and image: the Unix epoch.
var epoch = time.Unix(0, 0).UTC()

// entry is one file, directory or symbolic link of a layer.
type entry struct {
	path string // without leading slash, e.g. "bin/sh"
	mode int64  // permission bits, e.g. 0o755
	kind byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	data []byte // contents of a regular file
	link string // target of a symbolic link
}

func dir(p string, mode int64) entry { return entry{path: p, mode: mode, kind: tar.TypeDir} }

func file(p string, mode int64, data []byte) entry {
	return entry{path: p, mode: mode, kind: tar.TypeReg, data: data}
}

func symlink(p, target string) entry {
	return entry{path: p, mode: 0o777, kind: tar.TypeSymlink, link: target}
}

// hostFile reads a file of the host into an entry at p with mode.
func hostFile(p string, mode int64, hostPath string) (entry, error) {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return entry{}, err
	}
	return file(p, mode, data), nil
}

// header is the tar header of e: root-owned, dated at the epoch.
func (e entry) header() *tar.Header {
	h := &tar.Header{
		Typeflag: e.kind,
		Name:     e.path,
		Linkname: e.link,
		Mode:     e.mode,
		ModTime:  epoch,
	}
	switch e.kind {
	case tar.TypeDir:
		h.Name += "/"
	case tar.TypeReg:
		h.Size = int64(len(e.data))
	}
	return h
}

// layerTar writes entries, sorted by path with parents first, as a tar with
// the directories each path needs.
func layerTar(w io.Writer, entries []entry) error {
	tw := tar.NewWriter(w)
	for _, e := range withParents(entries) {
		if err := tw.WriteHeader(e.header()); err != nil {
			return fmt.Errorf("tar %s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("tar %s: %w", e.path, err)
		}
	}
	return tw.Close()
}

// withParents adds a 0755 directory for every missing parent and sorts.
func withParents(entries []entry) []entry {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		seen[e.path] = true
	}
	out := append([]entry(nil), entries...)
	for _, e := range entries {
		for p := path.Dir(e.path); p != "." && p != "/" && !seen[p]; p = path.Dir(p) {
			seen[p] = true
			out = append(out, dir(p, 0o755))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// layerFormat names the layout compress writes; cached layers carry it in
// their names, so a change of the layout (headers, compression) must
// change it too.
const layerFormat = "1"

// newLayer builds a gzip-compressed Docker layer from entries.
func newLayer(entries []entry) (v1.Layer, error) {
	blob, err := compress(entries)
	if err != nil {
		return nil, err
	}
	return blobLayer(blob)
}

// compress writes entries as a gzip-compressed tar. The gzip stream has no
// name or time in its header, so it is reproducible.
func compress(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if err := layerTar(zw, entries); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// blobLayer is the layer of a compressed tar.
func blobLayer(blob []byte) (v1.Layer, error) {
	sum := sha256.Sum256(blob)
	return partial.CompressedToLayer(&memLayer{
		blob:   blob,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
	})
}

// memLayer is a compressed layer held in memory.
type memLayer struct {
	blob   []byte
	digest v1.Hash
}

// Digest implements partial.CompressedLayer.
func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// Compressed implements partial.CompressedLayer.
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}

// Size implements partial.CompressedLayer.
func (l *memLayer) Size() (int64, error) { return int64(len(l.blob)), nil }

// MediaType implements partial.CompressedLayer.
func (l *memLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
