package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Epoch returns the modification time of every entry and the creation
// time of every image, the Unix epoch: fixed, so that builds are
// reproducible.
func Epoch() time.Time { return time.Unix(0, 0).UTC() }

// node is an entry after validation: its root-relative path and the
// header fields the layer needs.
type node struct {
	rel      string
	kind     Kind
	mode     int64
	implicit bool // a parent directory nobody declared
	entry    Entry
	size     int64 // host files: size at validation time
	index    int   // position in the caller's list, for messages
}

// plan validates entries and returns them, with the parent directories
// they need, sorted so that every directory precedes its contents.
func plan(entries []Entry) ([]*node, error) {
	byPath := make(map[string]*node, len(entries))
	for i, e := range entries {
		n, err := validate(i, e)
		if err != nil {
			return nil, err
		}
		if prev, ok := byPath[n.rel]; ok {
			return nil, fmt.Errorf("entry %d (%s /%s): duplicate path, already given by entry %d (%s)", i, e.Kind, n.rel, prev.index, prev.kind)
		}
		byPath[n.rel] = n
	}
	// Parents: every ancestor must be a directory, declared or implicit.
	declared := make([]*node, 0, len(byPath))
	for _, n := range byPath {
		declared = append(declared, n)
	}
	for _, n := range declared {
		for dir := path.Dir(n.rel); dir != "."; dir = path.Dir(dir) {
			p, ok := byPath[dir]
			if !ok {
				byPath[dir] = &node{rel: dir, kind: KindDir, mode: 0o755, implicit: true, index: -1}
				continue
			}
			if p.kind != KindDir {
				return nil, fmt.Errorf("entry %d (/%s): its parent /%s is a %s (entry %d), not a directory", n.index, n.rel, dir, p.kind, p.index)
			}
		}
	}
	out := make([]*node, 0, len(byPath))
	for _, n := range byPath {
		out = append(out, n)
	}
	// A parent's path is a prefix of its children's, so sorting the
	// elements puts it first.
	sort.Slice(out, func(i, j int) bool { return lessPath(out[i].rel, out[j].rel) })
	return out, nil
}

// lessPath orders paths element by element ("a/b" before "a-b"), which
// keeps every directory directly ahead of its contents.
func lessPath(a, b string) bool {
	ea, eb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ea) && i < len(eb); i++ {
		if ea[i] != eb[i] {
			return ea[i] < eb[i]
		}
	}
	return len(ea) < len(eb)
}

func validate(i int, e Entry) (*node, error) {
	rel, err := cleanPath(e.Path)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", i, err)
	}
	if e.UID < 0 || e.GID < 0 {
		return nil, fmt.Errorf("entry %d (/%s): negative owner %d:%d", i, rel, e.UID, e.GID)
	}
	n := &node{rel: rel, kind: e.Kind, entry: e, index: i}
	mode, err := unixMode(e.Mode)
	if err != nil {
		return nil, fmt.Errorf("entry %d (/%s): %w", i, rel, err)
	}
	switch e.Kind {
	case KindFile:
		if e.HostPath == "" {
			if mode == 0 {
				mode = 0o644
			}
			n.size = int64(len(e.Data))
			break
		}
		if e.Data != nil {
			return nil, fmt.Errorf("entry %d (/%s): both a host path and data given", i, rel)
		}
		st, err := os.Stat(e.HostPath)
		if err != nil {
			return nil, fmt.Errorf("entry %d (/%s): host file: %w", i, rel, err)
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("entry %d (/%s): host file %s is not a regular file (%v)", i, rel, e.HostPath, st.Mode().Type())
		}
		if mode == 0 {
			if mode, err = unixMode(st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
				return nil, fmt.Errorf("entry %d (/%s): host file %s: %w", i, rel, e.HostPath, err)
			}
		}
		n.size = st.Size()
	case KindDir:
		if e.HostPath != "" || e.Data != nil || e.Target != "" {
			return nil, fmt.Errorf("entry %d (/%s): a directory takes no content or target", i, rel)
		}
		if mode == 0 {
			mode = 0o755
		}
	case KindSymlink:
		if e.Target == "" {
			return nil, fmt.Errorf("entry %d (/%s): symlink without a target", i, rel)
		}
		if strings.ContainsRune(e.Target, 0) {
			return nil, fmt.Errorf("entry %d (/%s): symlink target %q contains a NUL byte", i, rel, e.Target)
		}
		if e.HostPath != "" || e.Data != nil {
			return nil, fmt.Errorf("entry %d (/%s): a symlink takes a target, not content", i, rel)
		}
		mode = 0o777
	default:
		return nil, fmt.Errorf("entry %d (/%s): unknown kind %v", i, rel, e.Kind)
	}
	n.mode = mode
	return n, nil
}

// writeLayer writes the uncompressed layer tar of nodes to w.
func writeLayer(w io.Writer, nodes []*node) error {
	tw := tar.NewWriter(w)
	for _, n := range nodes {
		h := &tar.Header{
			Name:    n.rel,
			Mode:    n.mode,
			Uid:     n.entry.UID,
			Gid:     n.entry.GID,
			ModTime: Epoch(),
			Format:  tar.FormatPAX,
		}
		switch n.kind {
		case KindDir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case KindSymlink:
			h.Typeflag = tar.TypeSymlink
			h.Linkname = n.entry.Target
		case KindFile:
			h.Typeflag = tar.TypeReg
			h.Size = n.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("layer entry /%s: %w", n.rel, err)
		}
		if n.kind != KindFile {
			continue
		}
		if err := writeContent(tw, n); err != nil {
			return fmt.Errorf("layer entry /%s: %w", n.rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing the layer: %w", err)
	}
	return nil
}

func writeContent(w io.Writer, n *node) error {
	if n.entry.HostPath == "" {
		_, err := w.Write(n.entry.Data)
		return err
	}
	f, err := os.Open(n.entry.HostPath)
	if err != nil {
		return fmt.Errorf("host file: %w", err)
	}
	defer f.Close()
	c, err := io.Copy(w, io.LimitReader(f, n.size+1))
	if err != nil {
		return fmt.Errorf("copying host file %s: %w", n.entry.HostPath, err)
	}
	if c != n.size {
		return fmt.Errorf("host file %s changed size while it was read (%d bytes, then %d)", n.entry.HostPath, n.size, c)
	}
	return nil
}

// layerTar returns the layer of entries as an uncompressed tar.
func layerTar(entries []Entry) ([]byte, error) {
	nodes, err := plan(entries)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeLayer(&buf, nodes); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
