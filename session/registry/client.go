package registry

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// probeTimeout bounds how long one session may take to answer /info.
const probeTimeout = 2 * time.Second

func clientFor(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

func alive(ctx context.Context, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err := fetchInfo(ctx, path)
	return err == nil
}

func fetchInfo(ctx context.Context, path string) (Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://session/info", nil)
	if err != nil {
		return Info{}, err
	}
	resp, err := clientFor(path).Do(req)
	if err != nil {
		return Info{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Info{}, fmt.Errorf("session answered %s", resp.Status)
	}
	var info Info
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&info); err != nil {
		return Info{}, fmt.Errorf("decoding session info: %w", err)
	}
	return info, nil
}

// List returns the live sessions in dir, oldest first, and removes stale
// sockets (nobody listening). A missing directory means no sessions.
func List(ctx context.Context, dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading session directory: %w", err)
	}
	var out []Info
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".sock")
		if !ok || CheckID(id) != nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		info, err := fetchInfo(pctx, path)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if isStale(err) {
				_ = os.Remove(path)
			}
			continue
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out, nil
}

// isStale: nobody listens on the socket (its owner died without cleanup).
func isStale(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		msg := op.Err.Error()
		return strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such file")
	}
	return false
}

// Get returns one live session.
func Get(ctx context.Context, dir, id string) (Info, error) {
	if err := CheckID(id); err != nil {
		return Info{}, err
	}
	info, err := fetchInfo(ctx, SocketPath(dir, id))
	if err != nil {
		if isStale(err) {
			return Info{}, fmt.Errorf("session %s: %w", id, ErrNotFound)
		}
		return Info{}, fmt.Errorf("session %s: %w", id, err)
	}
	return info, nil
}

// Kill asks session id to end.
func Kill(ctx context.Context, dir, id string) error {
	if err := CheckID(id); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://session/kill", nil)
	if err != nil {
		return err
	}
	resp, err := clientFor(SocketPath(dir, id)).Do(req)
	if err != nil {
		if isStale(err) {
			return fmt.Errorf("session %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("stopping session %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("stopping session %s: answered %s", id, resp.Status)
	}
	return nil
}

// Watch streams the events of session id into fn until the session ends,
// fn returns false, or ctx is done.
func Watch(ctx context.Context, dir, id string, fn func(Event) bool) error {
	if err := CheckID(id); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://session/events", nil)
	if err != nil {
		return err
	}
	resp, err := clientFor(SocketPath(dir, id)).Do(req)
	if err != nil {
		return fmt.Errorf("watching session %s: %w", id, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("session %s sent a bad event: %w", id, err)
		}
		if !fn(e) || e.Type == "ending" {
			return nil
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("watching session %s: %w", id, err)
	}
	return ctx.Err()
}
