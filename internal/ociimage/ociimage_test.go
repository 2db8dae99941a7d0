package ociimage

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// sample is a small image using every kind of entry; hostFile is the path
// of a host file with known content.
func sample(hostFile string) ([]Entry, Config) {
	entries := []Entry{
		HostFile("/usr/bin/tool", hostFile, 0o755),
		File("/etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0),
		Symlink("/bin/tool", "/usr/bin/tool"),
		Dir("/tmp", 0o1777),
		Dir("/var/empty", fs.ModeSticky|0o700),
		{Path: "home/user/.profile", Kind: KindFile, Data: []byte("export A=1\n"), Mode: 0o600, UID: 1000, GID: 1000},
		File("/usr/bin/suid", []byte("#!/bin/sh\n"), fs.ModeSetuid|0o755),
	}
	cfg := Config{
		Entrypoint: []string{"/usr/bin/tool"},
		Cmd:        []string{"--help"},
		Env:        []string{"PATH=/usr/bin:/bin", "HOME=/root"},
		WorkingDir: "/tmp",
		Labels:     map[string]string{"org.opencontainers.image.title": "sample"},
	}
	return entries, cfg
}

func writeHostFile(t *testing.T, content string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// The digests of the sample image. The layer's uncompressed digest
// (diff ID) and the config digest depend only on this package's output;
// the manifest digest also depends on the gzip bytes of the Go toolchain.
// If a change to the package changes them on purpose, update them here.
const (
	goldenDiffID = "sha256:6ee11b6071dcddc103f9cd2197992d17d8b4b8122911a9bb90ec555310445e1c"
	goldenConfig = "sha256:51a5b2d8ea9f242d0335d3b8e899bd9b34284a82b3186af7f0304d50580b6d07"
)

func TestGoldenDigest(t *testing.T) {
	host := writeHostFile(t, "#!/bin/sh\necho tool\n", 0o700)
	entries, cfg := sample(host)
	img, err := Build(entries, cfg)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	diffID, err := layers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if diffID.String() != goldenDiffID || cfgName.String() != goldenConfig {
		t.Errorf("diff ID %s config %s; want %s and %s", diffID, cfgName, goldenDiffID, goldenConfig)
	}

	first, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	// The same inputs, in another order, with the host file touched and
	// copied elsewhere, give the same image.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(host, later, later); err != nil {
		t.Fatal(err)
	}
	moved := writeHostFile(t, "#!/bin/sh\necho tool\n", 0o644)
	entries2, cfg2 := sample(moved)
	slices.Reverse(entries2)
	img2, err := Build(entries2, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	second, err := img2.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("the same inputs gave %s and %s", first, second)
	}

	// Any change of content, mode, target or config changes the digest.
	changes := []struct {
		name   string
		mutate func([]Entry, *Config) []Entry
	}{
		{"content", func(e []Entry, _ *Config) []Entry { e[1].Data = []byte("root:x:0:0::/:/bin/sh\n"); return e }},
		{"mode", func(e []Entry, _ *Config) []Entry { e[3].Mode = 0o777; return e }},
		{"target", func(e []Entry, _ *Config) []Entry { e[2].Target = "../usr/bin/tool"; return e }},
		{"owner", func(e []Entry, _ *Config) []Entry { e[0].UID = 1; return e }},
		{"env", func(e []Entry, c *Config) []Entry { c.Env = []string{"PATH=/bin"}; return e }},
		{"extra dir", func(e []Entry, _ *Config) []Entry { return append(e, Dir("/run", 0)) }},
	}
	for _, tc := range changes {
		t.Run(tc.name, func(t *testing.T) {
			e, c := sample(host)
			e = tc.mutate(e, &c)
			img, err := Build(e, c)
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if d == first {
				t.Errorf("changing the %s kept the digest %s", tc.name, d)
			}
		})
	}
}

// tarEntry is what the round trip reads back from a layer.
type tarEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
	data     string
}

func readLayer(t *testing.T, l v1.Layer) (map[string]tarEntry, []string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	got := map[string]tarEntry{}
	var order []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(Epoch()) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, Epoch())
		}
		got[h.Name] = tarEntry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, link: h.Linkname, data: string(data)}
		order = append(order, h.Name)
	}
	return got, order
}

func TestTarballRoundTrip(t *testing.T) {
	host := writeHostFile(t, "#!/bin/sh\necho tool\n", 0o700)
	entries, cfg := sample(host)
	img, err := Build(entries, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := ParseTag("mirrord.local/sample:1.0")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "out", "sample.tar")
	if err := WriteTarball(img, tag, file); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(file, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got, err := back.ConfigName(); err != nil || got != want {
		t.Errorf("config %s (%v), want %s", got, err, want)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(Epoch()) {
		t.Errorf("platform %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, cfg.Entrypoint) || !slices.Equal(c.Cmd, cfg.Cmd) || !slices.Equal(c.Env, cfg.Env) || c.WorkingDir != "/tmp" || c.Labels["org.opencontainers.image.title"] != "sample" {
		t.Errorf("config %+v", c)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	got, order := readLayer(t, layers[0])
	wantEntries := map[string]tarEntry{
		"bin/":               {typ: tar.TypeDir, mode: 0o755},
		"bin/tool":           {typ: tar.TypeSymlink, mode: 0o777, link: "/usr/bin/tool"},
		"etc/":               {typ: tar.TypeDir, mode: 0o755},
		"etc/passwd":         {typ: tar.TypeReg, mode: 0o644, data: "root:x:0:0:root:/root:/bin/sh\n"},
		"home/":              {typ: tar.TypeDir, mode: 0o755},
		"home/user/":         {typ: tar.TypeDir, mode: 0o755},
		"home/user/.profile": {typ: tar.TypeReg, mode: 0o600, uid: 1000, gid: 1000, data: "export A=1\n"},
		"tmp/":               {typ: tar.TypeDir, mode: 0o1777},
		"usr/":               {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/":           {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/suid":       {typ: tar.TypeReg, mode: 0o4755, data: "#!/bin/sh\n"},
		"usr/bin/tool":       {typ: tar.TypeReg, mode: 0o755, data: "#!/bin/sh\necho tool\n"},
		"var/":               {typ: tar.TypeDir, mode: 0o755},
		"var/empty/":         {typ: tar.TypeDir, mode: 0o1700},
	}
	for name, w := range wantEntries {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: got %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	if len(got) != len(wantEntries) {
		t.Errorf("layer has %d entries, want %d: %v", len(got), len(wantEntries), order)
	}
	if !slices.IsSortedFunc(order, func(a, b string) int {
		if lessPath(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/")) {
			return -1
		}
		return 1
	}) {
		t.Errorf("entries not sorted: %v", order)
	}
}

func TestLayout(t *testing.T) {
	host := writeHostFile(t, "#!/bin/sh\necho tool\n", 0o700)
	entries, cfg := sample(host)
	img, err := Build(entries, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := ParseTag("ghcr.io/mirrord-ls/sample:2")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	// A second write replaces the first.
	for range 2 {
		if err := WriteLayout(img, tag, dir); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if len(im.Manifests) != 1 {
		t.Fatalf("index has %d manifests", len(im.Manifests))
	}
	d := im.Manifests[0]
	if d.Digest != want || d.MediaType != types.OCIManifestSchema1 || d.Annotations["org.opencontainers.image.ref.name"] != "ghcr.io/mirrord-ls/sample:2" {
		t.Errorf("descriptor %+v, want digest %s", d, want)
	}
	if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != "amd64" {
		t.Errorf("platform %+v", d.Platform)
	}
	back, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := back.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	got, _ := readLayer(t, layers[0])
	if got["usr/bin/tool"].data != "#!/bin/sh\necho tool\n" {
		t.Errorf("tool %+v", got["usr/bin/tool"])
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".oci.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	host := writeHostFile(t, "x", 0o644)
	cases := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"missing host file", []Entry{HostFile("/bin/x", filepath.Join(dir, "nope"), 0)}, "entry 0 (/bin/x): host file: stat " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"host directory", []Entry{HostFile("/bin/x", dir, 0)}, "is not a regular file"},
		{"dot dot", []Entry{File("/usr/../../etc/shadow", nil, 0)}, `path "/usr/../../etc/shadow" escapes the image root`},
		{"dot dot at the end", []Entry{Dir("a/..", 0)}, "escapes the image root"},
		{"root", []Entry{Dir("/", 0)}, "names the image root"},
		{"empty path", []Entry{File("", []byte("x"), 0)}, "names the image root"},
		{"whiteout", []Entry{File("/etc/.wh.passwd", nil, 0)}, "whiteouts"},
		{"duplicate", []Entry{File("/etc/a", nil, 0), Symlink("etc//a/", "b")}, "entry 1 (symlink /etc/a): duplicate path, already given by entry 0 (file)"},
		{"parent is a file", []Entry{File("/etc", nil, 0), File("/etc/passwd", nil, 0)}, "entry 1 (/etc/passwd): its parent /etc is a file (entry 0), not a directory"},
		{"parent is a symlink", []Entry{Symlink("/lib", "usr/lib"), HostFile("/lib/x/libc.so", host, 0)}, "its parent /lib is a symlink (entry 0)"},
		{"symlink without target", []Entry{Symlink("/bin/sh", "")}, "symlink without a target"},
		{"type bits in mode", []Entry{File("/a", nil, fs.ModeDir|0o755)}, "file type bits"},
		{"negative owner", []Entry{{Path: "/a", Kind: KindDir, UID: -1}}, "negative owner"},
		{"unknown kind", []Entry{{Path: "/a"}}, "unknown kind"},
		{"data and host path", []Entry{{Path: "/a", Kind: KindFile, HostPath: host, Data: []byte("x")}}, "both a host path and data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.entries, Config{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParseTag(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"mirrord.local/pause:3.10", "mirrord.local/pause:3.10", true},
		{"ghcr.io/mirrord-ls/mirrord-agent", "ghcr.io/mirrord-ls/mirrord-agent:latest", true},
		{"ghcr.io/x/y@sha256:0123456789012345678901234567890123456789012345678901234567890123", "", false},
		{"UPPER/case:1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			tag, err := ParseTag(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && tag.Name() != tc.want {
				t.Errorf("name %s, want %s", tag.Name(), tc.want)
			}
		})
	}
}
