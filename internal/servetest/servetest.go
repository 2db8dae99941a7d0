// Package servetest runs throwaway TCP servers for tests: every accepted
// connection is handled in its own goroutine and closed after, and the
// server stops, with all its goroutines, when the test ends.
package servetest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is a running test server.
type Server struct {
	accepted atomic.Int64
}

// Accepted is how many connections the server has accepted so far.
func (s *Server) Accepted() int { return int(s.accepted.Load()) }

// Serve accepts connections on ln until the test ends and runs handle for
// each of them.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) *Server {
	s := &Server{}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return s
}
