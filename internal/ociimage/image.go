package ociimage

import (
	"bytes"
	"fmt"
	"io"
	"maps"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Config is the part of the image configuration a caller chooses. The
// platform is always linux; Architecture defaults to amd64.
type Config struct {
	Entrypoint []string
	Cmd        []string
	// Env entries are "NAME=value", in the order given.
	Env        []string
	WorkingDir string
	// User is "uid[:gid]" or a name from the image's /etc/passwd; empty
	// means root.
	User   string
	Labels map[string]string
	// Architecture is the GOARCH-style name of the binaries' architecture
	// (default "amd64").
	Architecture string
}

// createdBy is the history line of the image's only layer.
const createdBy = "mirrord-ls ociimage: single layer"

// Build makes a single-layer linux image of entries with configuration
// cfg. It checks the entries first (paths, duplicates, parents that are
// not directories, host files that are missing or not regular files) and
// reads host files once, into memory.
func Build(entries []Entry, cfg Config) (v1.Image, error) {
	raw, err := layerTar(entries)
	if err != nil {
		return nil, fmt.Errorf("building the image layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("compressing the image layer: %w", err)
	}
	arch := cfg.Architecture
	if arch == "" {
		arch = "amd64"
	}
	cf := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: Epoch()},
		Config: v1.Config{
			Entrypoint: cloneStrings(cfg.Entrypoint),
			Cmd:        cloneStrings(cfg.Cmd),
			Env:        cloneStrings(cfg.Env),
			WorkingDir: cfg.WorkingDir,
			User:       cfg.User,
			Labels:     maps.Clone(cfg.Labels),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the image config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: Epoch()}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the image layer: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	// Resolve everything now, so that a problem shows up here and not in
	// the middle of writing a file.
	if _, err := img.Digest(); err != nil {
		return nil, fmt.Errorf("computing the image digest: %w", err)
	}
	return img, nil
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
