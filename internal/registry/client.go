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
	"sync"
	"time"
)

// probeTimeout bounds how long one session may take to answer /info. A
// live intproxy answers in milliseconds; listing probes every socket at
// once, so a directory of silent sockets costs about this much in all.
const probeTimeout = time.Second

// maxParallelProbes bounds the sessions probed at the same time.
const maxParallelProbes = 32

func clientFor(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialSession(ctx, path)
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
// sockets (nobody listening). A missing directory means no sessions; a
// directory others could write to is an error (CheckDir). Sockets are
// probed in parallel, each for at most probeTimeout; sockets of other
// users and sockets that do not answer in time are left out.
func List(ctx context.Context, dir string) ([]Info, error) {
	if err := CheckDir(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading session directory: %w", err)
	}
	var paths []string
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".sock")
		if !ok || CheckID(id) != nil {
			continue
		}
		paths = append(paths, filepath.Join(dir, e.Name()))
	}
	infos := make([]*Info, len(paths))
	sem := make(chan struct{}, maxParallelProbes)
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				return
			}
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			info, err := fetchInfo(pctx, path)
			if err != nil {
				if ctx.Err() == nil && isStale(err) {
					_ = os.Remove(path)
				}
				return
			}
			infos[i] = &info
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Info
	for _, in := range infos {
		if in != nil {
			out = append(out, *in)
		}
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
	if err := CheckDir(dir); err != nil {
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
	if err := CheckDir(dir); err != nil {
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
	if err := CheckDir(dir); err != nil {
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
