package main

// httpParse is workloads/http.c's wl_http_parse in Go: a strict, small
// HTTP/1.1 request parser. It returns the request's total size (head +
// body) when complete, 0 when more bytes are needed, or a negative HTTP
// status for a request to refuse: -400 malformed, -413 body too large,
// -431 head too large, -501 Transfer-Encoding, -505 not HTTP/1.x.

import (
	"bytes"
	"strings"
)

const (
	httpMaxHead = 8192
	httpMaxBody = 1 << 20
)

type httpReq struct {
	head      bool // HEAD: no body in the response
	keepAlive bool // HTTP/1.1 default, or Connection: keep-alive on 1.0
}

func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c != 0 && strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// findCRLF: the CRLF at or after from; -1 incomplete, -2 a bare CR or LF
// or a control byte.
func findCRLF(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\r':
			if i+1 == len(b) {
				return -1
			}
			if b[i+1] == '\n' {
				return i
			}
			return -2
		case c == '\n' || c < 0x20 && c != '\t' || c == 0x7f:
			return -2
		}
	}
	return -1
}

func httpParse(b []byte) (int, httpReq) {
	var req httpReq
	scan := b
	if len(scan) > httpMaxHead {
		scan = scan[:httpMaxHead]
	}
	incomplete := 0
	if len(b) >= httpMaxHead {
		incomplete = -431
	}
	eol := findCRLF(scan, 0)
	if eol == -2 {
		return -400, req
	}
	if eol == -1 {
		return incomplete, req
	}
	// request line: METHOD SP target SP HTTP/1.x
	i, line := 0, eol
	for i < line && isTchar(b[i]) {
		i++
	}
	if i == 0 || i >= line || b[i] != ' ' {
		return -400, req
	}
	req.head = string(b[:i]) == "HEAD"
	t0 := i + 1
	for i = t0; i < line && b[i] != ' '; i++ {
		if b[i] <= 0x20 {
			return -400, req
		}
	}
	if i == t0 || i >= line {
		return -400, req
	}
	i++
	if line-i != 8 || !bytes.HasPrefix(b[i:], []byte("HTTP/1.")) {
		if line-i >= 5 && bytes.HasPrefix(b[i:], []byte("HTTP/")) {
			return -505, req
		}
		return -400, req
	}
	minor := b[i+7]
	if minor != '0' && minor != '1' {
		return -505, req
	}
	req.keepAlive = minor == '1'

	// headers
	haveLen, bodyLen, pos := false, 0, line+2
	for {
		eol = findCRLF(scan, pos)
		if eol == -2 {
			return -400, req
		}
		if eol == -1 {
			return incomplete, req
		}
		end := eol
		if end == pos { // empty line: end of head
			pos += 2
			break
		}
		n := pos
		for n < end && isTchar(b[n]) {
			n++
		}
		if n == pos || n >= end || b[n] != ':' {
			return -400, req
		}
		name := string(b[pos:n])
		v, vend := n+1, end
		for v < end && (b[v] == ' ' || b[v] == '\t') {
			v++
		}
		for vend > v && (b[vend-1] == ' ' || b[vend-1] == '\t') {
			vend--
		}
		value := strings.ToLower(string(b[v:vend]))
		switch strings.ToLower(name) {
		case "content-length":
			if haveLen || v == vend {
				return -400, req
			}
			val := 0
			for _, c := range b[v:vend] {
				if c < '0' || c > '9' {
					return -400, req
				}
				if val > httpMaxBody {
					return -413, req
				}
				val = val*10 + int(c-'0')
			}
			if val > httpMaxBody {
				return -413, req
			}
			bodyLen, haveLen = val, true
		case "transfer-encoding":
			return -501, req
		case "connection":
			if strings.Contains(value, "close") {
				req.keepAlive = false
			}
			if strings.Contains(value, "keep-alive") {
				req.keepAlive = true
			}
		}
		pos = end + 2
	}
	if len(b)-pos < bodyLen {
		return 0, req
	}
	return pos + bodyLen, req
}
