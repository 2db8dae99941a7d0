// Command goprobe is the Go program the supervisor's end-to-end tests run
// under mirrord exec, built static (CGO_ENABLED=0) and dynamic.
//
//	goprobe look HOSTS_NAME DNS_NAME URL FILE   env, resolve, connect, read
//	goprobe serve ADDR                          answer HTTP on ADDR
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	switch os.Args[1] {
	case "look":
		look(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case "serve":
		ln, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening", ln.Addr())
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "from the local go: %s", r.URL.Path)
		}))
	}
}

func look(hostsName, dnsName, url, file string) {
	fmt.Println("env", os.Getenv("REMOTE_ONLY"))
	for _, n := range []string{hostsName, dnsName} {
		addrs, err := net.LookupHost(n)
		if err != nil {
			fmt.Println("lookup", n, "error", err)
			continue
		}
		fmt.Println("lookup", n, strings.Join(addrs, ","))
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Println("http error", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("http", resp.Header.Get("X-Served-By"), string(b))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		fmt.Println("file error", err)
	} else {
		fmt.Printf("file %q\n", b)
	}
	st, err := os.Stat(file)
	if err != nil {
		fmt.Println("stat error", err)
	} else {
		fmt.Println("stat", st.Size())
	}
}
