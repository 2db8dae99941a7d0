package lsp

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"
)

// Path returns the local file path of a file:// URI.
//
// go.lsp.dev/uri parses leniently (any scheme, broken escapes) and its
// FsPath never fails, so URIs from the client are checked here: a URI that
// is not a well-formed file URI is an error, never a guess.
func Path(u protocol.DocumentURI) (string, error) {
	parsed, err := url.Parse(string(u))
	if err != nil {
		return "", fmt.Errorf("parsing document URI %q: %w", string(u), err)
	}
	if parsed.Scheme != "file" {
		return "", fmt.Errorf("document URI %q: scheme %q is not file", string(u), parsed.Scheme)
	}
	if parsed.Path == "" {
		return "", fmt.Errorf("document URI %q has no path", string(u))
	}
	return filepath.FromSlash(parsed.Path), nil
}

// URIFromPath returns the file:// URI of an absolute path, encoded as
// go.lsp.dev/uri (and VS Code) encode it.
func URIFromPath(path string) protocol.DocumentURI {
	p := filepath.ToSlash(filepath.Clean(path))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return uri.File(p)
}
