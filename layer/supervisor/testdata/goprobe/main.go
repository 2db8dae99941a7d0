// Command goprobe is the Go program the supervisor's end-to-end tests run
// under mirrord exec, built static (CGO_ENABLED=0) and dynamic. Each
// argument is one operation, printing one line:
//
//	env=NAME      env NAME VALUE
//	lookup=HOST   lookup HOST ADDR,ADDR... (Go's resolver)
//	get=URL       get X-Served-By BODY
//	cat=FILE      cat "CONTENT"
//	stat=FILE     stat SIZE
//	serve=ADDR    listening ADDR, then answers HTTP on ADDR (never returns),
//	              printing request PATH from PEER
//	unix=PATH     unix PATH's echo of "over a unix socket"
//	ls=DIR        ls NAME,NAME... (os.ReadDir: open without O_DIRECTORY)
//	mark=FILE     creates FILE
//	wait=FILE     waits (up to a minute) until FILE exists
//	loop=N,URL,FILE  N times: read FILE, stat it, GET URL on a new
//	              connection; prints loop N ok, or the first error
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

func main() {
	for _, a := range os.Args[1:] {
		op, arg, _ := strings.Cut(a, "=")
		run(op, arg)
	}
}

func run(op, arg string) {
	switch op {
	case "env":
		fmt.Println("env", arg, os.Getenv(arg))
	case "lookup":
		addrs, err := net.LookupHost(arg)
		if err != nil {
			fmt.Println("lookup", arg, "error", err)
			return
		}
		fmt.Println("lookup", arg, strings.Join(addrs, ","))
	case "get":
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Get(arg)
		if err != nil {
			fmt.Println("get error", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("get", resp.Header.Get("X-Served-By"), strings.TrimSpace(string(b)))
	case "cat":
		b, err := os.ReadFile(arg)
		if err != nil {
			fmt.Println("cat error", err)
			return
		}
		fmt.Printf("cat %q\n", b)
	case "stat":
		st, err := os.Stat(arg)
		if err != nil {
			fmt.Println("stat error", err)
			return
		}
		fmt.Println("stat", st.Size())
	case "serve":
		ln, err := net.Listen("tcp", arg)
		if err != nil {
			fmt.Println("listen error", err)
			os.Exit(1)
		}
		fmt.Println("listening", ln.Addr())
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Printf("request %s from %s\n", r.URL.Path, r.RemoteAddr)
			fmt.Fprintf(w, "from the local go: %s", r.URL.Path)
		}))
	case "unix":
		c, err := net.DialTimeout("unix", arg, 10*time.Second)
		if err != nil {
			fmt.Println("unix error", err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := "over a unix socket"
		if _, err := c.Write([]byte(msg)); err != nil {
			fmt.Println("unix error", err)
			return
		}
		b := make([]byte, len(msg))
		if _, err := io.ReadFull(c, b); err != nil {
			fmt.Println("unix error", err)
			return
		}
		fmt.Println("unix", string(b))
	case "ls":
		ents, err := os.ReadDir(arg)
		if err != nil {
			fmt.Println("ls error", err)
			return
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Println("ls", strings.Join(names, ","))
	case "write":
		// PATH,TEXT: open, write and close (the last close)
		path, text, _ := strings.Cut(arg, ",")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			fmt.Println("write error", err)
		}
	case "mark":
		if err := os.WriteFile(arg, nil, 0o644); err != nil {
			fmt.Println("mark error", err)
		}
	case "wait":
		for i := 0; i < 1200; i++ {
			if _, err := os.Stat(arg); err == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Println("wait: timed out")
	case "dnsudp":
		// an A query over an unconnected UDP socket (sendto/recvfrom, as
		// musl's resolver does) to the first nameserver of resolv.conf
		dnsUDP(arg)
	case "rps":
		// N requests, a new connection each: requests per second
		var n int
		parts := strings.Split(arg, ",")
		fmt.Sscan(parts[0], &n)
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			resp, err := c.Get(parts[1])
			if err != nil {
				fmt.Println("rps error", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		fmt.Printf("rps %.1f\n", float64(n)/time.Since(t0).Seconds())
	case "loop":
		var n int
		parts := strings.Split(arg, ",")
		fmt.Sscan(parts[0], &n)
		c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		for i := 0; i < n; i++ {
			if _, err := os.ReadFile(parts[2]); err != nil {
				fmt.Println("loop error", err)
				return
			}
			if _, err := os.Stat(parts[2]); err != nil {
				fmt.Println("loop error", err)
				return
			}
			resp, err := c.Get(parts[1])
			if err != nil {
				fmt.Println("loop error", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		fmt.Println("loop", n, "ok")
	default:
		fmt.Println("unknown operation", op)
		os.Exit(2)
	}
}

// dnsUDP asks the first nameserver of /etc/resolv.conf for name's A
// record with sendto and recvfrom on an unconnected socket, and prints
// the answer and who sent it.
func dnsUDP(name string) {
	conf, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		fmt.Println("dnsudp error", err)
		return
	}
	var ns netip.Addr
	for _, line := range strings.Split(string(conf), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() {
				ns = a
				break
			}
		}
	}
	if !ns.IsValid() {
		fmt.Println("dnsudp error: no IPv4 nameserver")
		return
	}
	q := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4d52, RecursionDesired: true})
	_ = q.StartQuestions()
	_ = q.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(strings.TrimSuffix(name, ".") + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, err := q.Finish()
	if err != nil {
		fmt.Println("dnsudp error", err)
		return
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Println("dnsudp error", err)
		return
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrInet4{Port: 53, Addr: ns.As4()}); err != nil {
		fmt.Println("dnsudp error sendto", err)
		return
	}
	buf := make([]byte, 1500)
	n, from, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		fmt.Println("dnsudp error recvfrom", err)
		return
	}
	src := "?"
	if sa, ok := from.(*unix.SockaddrInet4); ok {
		src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	}
	var p dnsmessage.Parser
	if _, err := p.Start(buf[:n]); err != nil {
		fmt.Println("dnsudp error", err)
		return
	}
	_ = p.SkipAllQuestions()
	var ips []string
	for {
		h, err := p.AnswerHeader()
		if err != nil {
			break
		}
		if h.Type != dnsmessage.TypeA {
			_ = p.SkipAnswer()
			continue
		}
		a, err := p.AResource()
		if err != nil {
			break
		}
		ips = append(ips, netip.AddrFrom4(a.A).String())
	}
	fmt.Println("dnsudp", name, strings.Join(ips, ","), "from", src, "ns", ns)
}
