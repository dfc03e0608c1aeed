package main

// serve.go — `tmbench-go serve echo|http --procs N --port P --host H`:
// the Go versions of the echo and http servers (net.go) on a fixed port
// for outside clients, as `tmbench serve -m go` runs them. Says where it
// listens on stderr in tmbench serve's words; SIGINT or SIGTERM closes the
// listener, lets open connections finish (net.go's serve waits at most
// twice the idle timeout) and exits 0.

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

func serveCmd(args []string) int {
	if len(args) < 1 || (args[0] != "echo" && args[0] != "http") {
		return usage("serve: echo or http first")
	}
	name := args[0]
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	procs := fs.Int("procs", runtime.NumCPU(), "GOMAXPROCS")
	port := fs.Int("port", 8080, "port")
	host := fs.String("host", "127.0.0.1", "IPv4 address to bind")
	if err := fs.Parse(args[1:]); err != nil {
		return usage("serve: %v", err)
	}
	if fs.NArg() > 0 || *procs < 1 || *port < 0 || *port > 65535 {
		return usage("serve: bad arguments %q", args)
	}
	if ip := net.ParseIP(*host); ip == nil || ip.To4() == nil {
		return usage("serve: --host must be an IPv4 address, not '%s'", *host)
	}
	runtime.GOMAXPROCS(*procs)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	ln, err := net.Listen("tcp4", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "tmbench: serve: cannot listen on %s:%d: %v\n", *host, *port, err)
		return 1
	}
	conn := echoConn
	if name == "http" {
		conn = httpConn
	}
	fmt.Fprintf(os.Stderr, "tmbench: serving %s on %s:%d (model go, procs %d, %s); SIGINT or SIGTERM stops\n",
		name, *host, ln.Addr().(*net.TCPAddr).Port, *procs, version())
	go func() { <-stop; ln.Close() }()
	serve(&run{}, ln, conn)
	return 0
}
