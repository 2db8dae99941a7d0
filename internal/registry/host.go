package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Host serves one session's API. The session process creates it, updates
// Info through Update, publishes events, and learns of kill requests through
// Killed.
type Host struct {
	path     string
	listener net.Listener
	server   *http.Server
	killed   chan struct{}
	killOnce sync.Once

	mu   sync.Mutex
	info Info
	subs map[chan Event]struct{}
}

// Listen registers session info.ID in dir and starts serving. Close (or the
// context ending) removes the socket.
func Listen(ctx context.Context, dir string, info Info) (*Host, error) {
	if err := CheckID(info.ID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating session directory: %w", err)
	}
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	path := SocketPath(dir, info.ID)
	if _, err := os.Stat(path); err == nil {
		// A socket with this id exists: refuse if it is alive, replace if stale.
		if alive(ctx, path) {
			return nil, fmt.Errorf("session %s is already registered in %s", info.ID, dir)
		}
		_ = os.Remove(path)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("securing %s: %w", path, err)
	}
	// The mode keeps other users out where the kernel honours it; the
	// peer check keeps them out everywhere.
	l = &peerListener{Listener: l}
	h := &Host{path: path, listener: l, killed: make(chan struct{}), info: info, subs: map[chan Event]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /info", h.serveInfo)
	mux.HandleFunc("GET /events", h.serveEvents)
	mux.HandleFunc("POST /kill", h.serveKill)
	h.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.server.Serve(l) }()
	go func() {
		select {
		case <-ctx.Done():
			h.Close()
		case <-h.killed:
		}
	}()
	return h, nil
}

// Killed is closed when a client asked the session to end.
func (h *Host) Killed() <-chan struct{} { return h.killed }

// Update changes the session info under the host's lock.
func (h *Host) Update(f func(*Info)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(&h.info)
}

// Publish sends an event to every /events subscriber. A subscriber that
// does not keep up loses events rather than slowing the session.
func (h *Host) Publish(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Close stops serving and removes the socket. It is safe to call twice.
func (h *Host) Close() error {
	h.Publish(Event{Type: "ending"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := h.server.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = h.server.Close() // event streams do not end by themselves
	}
	if rmErr := os.Remove(h.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}

func (h *Host) serveInfo(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	info := h.info
	info.Processes = append([]Process{}, h.info.Processes...)
	info.PortSubscriptions = append([]PortSubscription{}, h.info.PortSubscriptions...)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

func (h *Host) serveKill(w http.ResponseWriter, _ *http.Request) {
	h.killOnce.Do(func() { close(h.killed) })
	w.WriteHeader(http.StatusAccepted)
}

func (h *Host) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": connected\n\n")
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.killed:
			return
		case e := <-ch:
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, b); err != nil {
				return
			}
			flusher.Flush()
			if e.Type == "ending" {
				return
			}
		}
	}
}
