package ociimage

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ParseTag parses an image reference with a tag, such as
// "ghcr.io/mirrord-ls/mirrord-agent:1.2.3". A reference without a tag
// gets "latest"; a digest reference is refused (a tarball names tags).
func ParseTag(ref string) (name.Tag, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return t, nil
}

// WriteTarball writes img as a `docker save` tarball naming tag to file
// (through a temporary file in the same directory, so a reader never sees
// half a tarball). `ctr -n k8s.io images import FILE` and
// `crane push FILE REF` read it.
func WriteTarball(img v1.Image, tag name.Tag, file string) (err error) {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("image tarball directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("image tarball: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tarball.Write(tag, img, tmp); err != nil {
		return fmt.Errorf("writing image tarball %s: %w", file, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("image tarball %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing image tarball %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("image tarball: %w", err)
	}
	return nil
}

// WriteLayout writes img as an OCI image layout in dir, replacing what
// was there. The index's only manifest carries the annotation
// org.opencontainers.image.ref.name = tag (the full reference), so
// `skopeo copy oci:DIR:REF` finds it by name and `skopeo copy oci:DIR`
// takes it as the only image.
func WriteLayout(img v1.Image, tag name.Tag, dir string) (err error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("image layout directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("image layout: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("writing image layout %s: %w", dir, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	err = p.AppendImage(img,
		layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()}),
		layout.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture}))
	if err != nil {
		return fmt.Errorf("writing image layout %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("image layout %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("replacing image layout %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("image layout: %w", err)
	}
	return nil
}
