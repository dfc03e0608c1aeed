package main

// nethttp.go — `tmbench-go nethttp --port N`: Go's own net/http server
// answering like tmbench's http workload ("Hello, World!", text/plain,
// keep-alive), the yardstick for `scripts/wrk-compare --go-nethttp`.
// GOMAXPROCS comes from the environment. Runs until killed.

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func nethttpCmd(args []string) int {
	fs := flag.NewFlagSet("nethttp", flag.ContinueOnError)
	port := fs.Int("port", 8080, "port on 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *port < 0 || *port > 65535 {
		return usage("nethttp: --port must be 0..65535, not %d", *port)
	}
	body := []byte("Hello, World!")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Server"] = []string{"tmbench"}
		h["Content-Type"] = []string{"text/plain"}
		w.Write(body)
	})
	err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil)
	fmt.Fprintf(os.Stderr, "tmbench-go: nethttp: %v\n", err)
	return 1
}
