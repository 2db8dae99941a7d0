package lsp

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Path returns the local file path of a file:// URI.
func (u DocumentURI) Path() (string, error) {
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

// URIFromPath returns the file:// URI of an absolute path.
func URIFromPath(path string) DocumentURI {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return DocumentURI((&url.URL{Scheme: "file", Path: p}).String())
}
