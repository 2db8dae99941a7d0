// Command svprobe is the Go program the launch-environment tests
// (supervise_test.go, launch_test.go) start with LD_PRELOAD and the
// MIRRORD_* variables of an editor's launch, built dynamic (cgo, so the
// layer's constructor runs in it) or static. Each argument is one
// operation, printing one line:
//
//	ppid          ppid N (the supervisor may answer getppid)
//	env=NAME      env NAME VALUE
//	cat=FILE      cat "CONTENT" (or cat error ...)
//	lookup=HOST   lookup HOST ADDR,ADDR... (Go's resolver)
//	get=URL       get BODY
//	sh=SCRIPT     sh "OUTPUT" of sh -c SCRIPT (os/exec, the Go runtime's
//	              own fork and exec, with os.Environ())
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	for _, a := range os.Args[1:] {
		op, arg, _ := strings.Cut(a, "=")
		run(op, arg)
	}
}

func run(op, arg string) {
	switch op {
	case "ppid":
		fmt.Println("ppid", os.Getppid())
	case "env":
		fmt.Println("env", arg, os.Getenv(arg))
	case "cat":
		b, err := os.ReadFile(arg)
		if err != nil {
			fmt.Println("cat error", err)
			return
		}
		fmt.Printf("cat %q\n", b)
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
		fmt.Println("get", strings.TrimSpace(string(b)))
	case "sh":
		out, err := exec.Command("sh", "-c", arg).Output()
		if err != nil {
			fmt.Printf("sh error %v %q\n", err, out)
			return
		}
		fmt.Printf("sh %q\n", out)
	default:
		fmt.Println("unknown op", op)
		os.Exit(2)
	}
}
