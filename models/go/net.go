package main

// The network workloads of workloads/net.c: a TCP echo server and an
// HTTP/1.1 keep-alive server on 127.0.0.1, one goroutine per connection
// (net.Listener, net.Conn: Go's netpoller), driven by `tmbench load` run as
// a child exactly as net.c runs it. Its report gives the requests, the
// latency histogram (the client's) and conns_ok, the checksum. The HTTP
// side is http.c's parser ported, not net/http: the workload measures the
// runtime under a tiny server, not a library's request handling.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const idleTimeout = 10 * time.Second // a silent connection is closed

// tmbenchPath is the tmbench that ran us (--tmbench), for `tmbench load`.
var tmbenchPath string

type server struct {
	wg                              sync.WaitGroup // connection goroutines alive
	requests, bytes, refused, conns atomic.Int64
}

func echoConn(c net.Conn, s *server) {
	buf := make([]byte, 4096)
	for {
		c.SetDeadline(time.Now().Add(idleTimeout))
		n, _ := c.Read(buf)
		if n <= 0 {
			break
		}
		if _, err := c.Write(buf[:n]); err != nil {
			break
		}
		s.requests.Add(1)
		s.bytes.Add(int64(n))
	}
}

const httpOK = "HTTP/1.1 200 OK\r\nServer: tmbench\r\nContent-Type: text/plain\r\n" +
	"Content-Length: 13\r\n\r\nHello, World!"

func httpRefuse(c net.Conn, status int) {
	why := map[int]string{413: "Payload Too Large", 431: "Request Header Fields Too Large",
		501: "Not Implemented", 505: "HTTP Version Not Supported"}[status]
	if why == "" {
		why = "Bad Request"
	}
	c.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(status)+" "+why+
		"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	// Lingering close, as net.c does: closing with unread request bytes
	// makes the kernel send RST, which can destroy the reply before the
	// client reads it. Stop writing; drain (1 s, 1 MiB) until the peer closes.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

func httpConn(c net.Conn, s *server) {
	buf := make([]byte, httpMaxHead+4096)
	have := 0
	for open := true; open; {
		c.SetDeadline(time.Now().Add(idleTimeout))
		n, _ := c.Read(buf[have:])
		if n <= 0 {
			break
		}
		have += n
		for { // every complete request in the buffer (pipelining)
			used, req := httpParse(buf[:have])
			if used == 0 {
				if have == len(buf) { // a body larger than the buffer
					httpRefuse(c, 413)
					s.refused.Add(1)
					open = false
				}
				break
			}
			if used < 0 {
				httpRefuse(c, -used)
				s.refused.Add(1)
				open = false
				break
			}
			resp := httpOK
			if req.head {
				resp = httpOK[:len(httpOK)-13]
			}
			if _, err := io.WriteString(c, resp); err != nil {
				open = false
			}
			s.requests.Add(1)
			s.bytes.Add(int64(len(resp)))
			have = copy(buf, buf[used:have])
			if !req.keepAlive || !open {
				open = false
				break
			}
		}
	}
}

// serve accepts until the listener is closed, one goroutine per
// connection, then waits (at most twice the idle timeout) for them.
func serve(r *run, ln net.Listener, conn func(net.Conn, *server)) {
	s := &server{}
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
				time.Sleep(10 * time.Millisecond) // out of descriptors: let connections finish
				continue
			}
			break
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go func() {
			conn(c, s)
			c.Close()
			s.wg.Done()
		}()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * idleTimeout):
	}
	r.metric("server_conns", float64(s.conns.Load()))
	r.metric("server_requests", float64(s.requests.Load()))
	r.metric("server_bytes", float64(s.bytes.Load()))
	r.metric("server_refused", float64(s.refused.Load()))
}

// netWorkload is echo or http: serve, and run `tmbench load` against it.
// ops = requests answered; checksum = connections whose every reply was
// right (the client checks); metrics: server_*, requests, errors, bytes.
func netWorkload(proto string, params []string, conn func(net.Conn, *server)) workload {
	return workload{name: proto, params: params, prepare: func(r *run) (phases, error) {
		var connsOK int64
		body := func() error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fail("%s: cannot listen on 127.0.0.1: %v", proto, err)
			}
			served := make(chan struct{})
			go func() { serve(r, ln, conn); close(served) }()
			msgsize := int64(0)
			if proto == "echo" {
				msgsize = r.int("msgsize")
			}
			itoa := func(v int64) string { return strconv.FormatInt(v, 10) }
			cmd := exec.Command(tmbenchPath, "load", "--proto", proto,
				"--port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
				"--conns", itoa(r.int("conns")), "--rate", itoa(r.int("rate")),
				"--duration-ms", itoa(r.int("duration_ms")), "--msgsize", itoa(msgsize),
				"--format", "kv")
			var rep map[string]int64
			out, err := cmd.StdoutPipe()
			if err == nil {
				err = cmd.Start()
			}
			if err != nil {
				err = fail("%s: cannot start the load generator: %v", proto, err)
			} else {
				rep = readReport(out, r.histogram())
				werr := cmd.Wait()
				var ee *exec.ExitError // exit 1: some connections failed, the checksum says so
				if werr != nil && !(errors.As(werr, &ee) && ee.ExitCode() == 1) {
					err = fail("%s: the load generator failed (%v)", proto, werr)
				}
			}
			ln.Close()
			<-served
			r.metric("requests", float64(rep["requests"]))
			r.metric("errors", float64(rep["errors"]))
			r.metric("bytes", float64(rep["bytes"]))
			r.ops = uint64(rep["requests"])
			connsOK = rep["conns_ok"]
			return err
		}
		return phases{body, func() uint64 { return uint64(connsOK) }}, nil
	}}
}

// readReport reads `tmbench load --format kv`: "key value" lines, and
// "lat <ns> <count>" histogram buckets folded into h.
func readReport(rd io.Reader, h *hist) map[string]int64 {
	rep := map[string]int64{}
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "lat" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			n, _ := strconv.ParseUint(f[2], 10, 64)
			h.recordN(v, n)
		} else if len(f) == 2 {
			rep[f[0]], _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rep
}

var echoWL = netWorkload("echo", []string{"conns", "rate", "duration_ms", "msgsize"}, echoConn)
var httpWL = netWorkload("http", []string{"conns", "rate", "duration_ms"}, httpConn)
