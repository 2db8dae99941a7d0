package agenttest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// The app role: what runs inside the target namespace.
const (
	// AppHTTPPort serves HTTP: "app: METHOD PATH" with header X-Served-By: app.
	AppHTTPPort = 80
	// AppEchoPort echoes TCP and UDP.
	AppEchoPort = 7
	// AppSinkPort reads until EOF, then writes the byte count (decimal).
	AppSinkPort = 9
	// AppSocket is the unix echo socket, relative to the pod root.
	AppSocket = "run/app.sock"
	// AppDNSName resolves (A) to the peer address through the app's DNS
	// server on 127.0.0.1:53 in the target namespace; resolv.conf in the pod
	// root names it with search domain "cluster.test".
	AppDNSName = "db.cluster.test"
)

func runRole(role string) int {
	switch role {
	case "app":
		if err := runApp(os.Getenv("AGENTTEST_ROOT"), os.Getenv("AGENTTEST_PEER_IP")); err != nil {
			fmt.Fprintln(os.Stderr, "agenttest app:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "agenttest: unknown role %q\n", role)
	return 2
}

func runApp(root, peerIP string) error {
	ctx := context.Background()
	var lc net.ListenConfig
	httpLn, err := lc.Listen(ctx, "tcp4", fmt.Sprintf("0.0.0.0:%d", AppHTTPPort))
	if err != nil {
		return err
	}
	echoLn, err := lc.Listen(ctx, "tcp4", fmt.Sprintf("0.0.0.0:%d", AppEchoPort))
	if err != nil {
		return err
	}
	udp, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", AppEchoPort))
	if err != nil {
		return err
	}
	dnsConn, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:53")
	if err != nil {
		return err
	}
	sinkLn, err := lc.Listen(ctx, "tcp4", fmt.Sprintf("0.0.0.0:%d", AppSinkPort))
	if err != nil {
		return err
	}
	go serveSink(sinkLn)
	sock := filepath.Join(root, AppSocket)
	os.Remove(sock)
	unixLn, err := lc.Listen(ctx, "unix", sock)
	if err != nil {
		return err
	}
	go http.Serve(httpLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Served-By", "app")
		fmt.Fprintf(w, "app: %s %s", r.Method, r.URL.Path)
	}))
	go serveEcho(echoLn)
	go serveEcho(unixLn)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, addr, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			udp.WriteTo(buf[:n], addr)
		}
	}()
	go serveDNS(dnsConn, peerIP)
	fmt.Println("ready")
	// Live until killed or until the test's pipe closes.
	io.Copy(io.Discard, os.Stdin)
	return nil
}

func serveEcho(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			io.Copy(c, c)
		}()
	}
}

func serveSink(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			n, _ := io.Copy(io.Discard, c)
			fmt.Fprintf(c, "%d", n)
		}()
	}
}

// serveDNS answers A queries for AppDNSName with peerIP, NXDOMAIN otherwise.
func serveDNS(conn net.PacketConn, peerIP string) {
	ip := net.ParseIP(peerIP).To4()
	buf := make([]byte, 512)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
			continue
		}
		resp := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, RecursionAvailable: true}, Questions: q.Questions}
		question := q.Questions[0]
		if strings.EqualFold(question.Name.String(), AppDNSName+".") {
			if question.Type == dnsmessage.TypeA && ip != nil {
				resp.Answers = append(resp.Answers, dnsmessage.Resource{
					Header: dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5},
					Body:   &dnsmessage.AResource{A: [4]byte(ip)},
				})
			}
		} else {
			resp.RCode = dnsmessage.RCodeNameError
		}
		out, err := resp.Pack()
		if err == nil {
			conn.WriteTo(out, addr)
		}
	}
}
