// Package ociimage builds small single-layer container images without a
// container engine: a list of entries (files copied from the host, files
// from bytes, symlinks, directories) becomes one layer, and a Config
// becomes the image configuration. The result is deterministic — every
// entry has the same fixed modification time, entries are sorted and owned
// by root unless told otherwise — so the same inputs always give the same
// image digest.
//
// An image is written either as a `docker save` tarball, which
// `ctr images import` and `crane push` read, or as an OCI image layout
// directory, which `skopeo copy oci:DIR` and `crane push` read.
//
// The package builds linux images only; the project's cluster nodes are
// linux/amd64.
package ociimage

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Kind says what an Entry puts into the image.
type Kind int

// The kinds of entries.
const (
	// KindFile is a regular file, from Data or from the host file HostPath.
	KindFile Kind = iota + 1
	// KindDir is a directory.
	KindDir
	// KindSymlink is a symbolic link to Target.
	KindSymlink
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "directory"
	case KindSymlink:
		return "symlink"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Entry is one file system object of the image's layer. Build it with
// HostFile, File, Symlink or Dir.
type Entry struct {
	// Path inside the image, absolute ("/usr/bin/x") or relative to the
	// root ("usr/bin/x"). It must not contain "..".
	Path string
	Kind Kind
	// Mode holds the Unix permission bits. The setuid, setgid and sticky
	// bits may be given either as 0o4000, 0o2000, 0o1000 or as
	// fs.ModeSetuid, fs.ModeSetgid, fs.ModeSticky. Zero means 0o644 for a
	// file from bytes, the host file's permissions for a host file, and
	// 0o755 for a directory. Symlinks are always 0o777.
	Mode fs.FileMode
	// HostPath is the host file a KindFile entry copies (symlinks on the
	// host are followed). Empty means Data is the content.
	HostPath string
	// Data is the content of a KindFile entry without HostPath.
	Data []byte
	// Target is where a KindSymlink entry points, as written.
	Target string
	// UID and GID own the entry (0, root, by default).
	UID, GID int
}

// HostFile copies the host file hostPath to path in the image with the
// permission bits mode (0: the host file's).
func HostFile(path, hostPath string, mode fs.FileMode) Entry {
	return Entry{Path: path, Kind: KindFile, HostPath: hostPath, Mode: mode}
}

// File writes data to path in the image with the permission bits mode
// (0: 0o644).
func File(path string, data []byte, mode fs.FileMode) Entry {
	return Entry{Path: path, Kind: KindFile, Data: data, Mode: mode}
}

// Symlink makes path in the image a symbolic link to target.
func Symlink(path, target string) Entry {
	return Entry{Path: path, Kind: KindSymlink, Target: target}
}

// Dir makes path in the image a directory with the permission bits mode
// (0: 0o755). Parents of other entries need no Dir entry: they are
// created with 0o755.
func Dir(path string, mode fs.FileMode) Entry {
	return Entry{Path: path, Kind: KindDir, Mode: mode}
}

// unixMode converts m to the Unix mode bits a tar header carries
// (permissions plus setuid, setgid and sticky).
func unixMode(m fs.FileMode) (int64, error) {
	if t := m & fs.ModeType; t != 0 {
		return 0, fmt.Errorf("mode %v has file type bits; give permission bits only", m)
	}
	if rest := m &^ (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o7000); rest != 0 {
		return 0, fmt.Errorf("mode %v has unsupported bits %#o", m, uint32(rest))
	}
	u := int64(m & (fs.ModePerm | 0o7000))
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u, nil
}

// cleanPath turns an image path into the root-relative form a layer uses
// ("usr/bin/x"), refusing paths that are empty, name the root itself,
// climb out of the root with "..", or would be read as overlay whiteouts.
func cleanPath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	rel := strings.TrimLeft(p, "/")
	for _, el := range strings.Split(rel, "/") {
		if el == ".." {
			return "", fmt.Errorf("path %q escapes the image root (it contains \"..\")", p)
		}
		if strings.HasPrefix(el, ".wh.") {
			return "", fmt.Errorf("path %q has an element starting with .wh., which image layers reserve for whiteouts", p)
		}
	}
	rel = path.Clean(rel)
	if rel == "." || rel == "" {
		return "", fmt.Errorf("path %q names the image root, not an entry in it", p)
	}
	return rel, nil
}
