package main

// The IO workloads of workloads/io.c: sleep (timer wake-up lateness) and
// ring (a token passed around a ring through pipes or channels).

import (
	"encoding/binary"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// sleep: `tasks` goroutines sleep `us` microseconds `iters` times;
// latency_ns is each wake-up's lateness. ops = checksum = wake-ups.
var sleepWL = workload{
	name:   "sleep",
	params: []string{"tasks", "us", "iters"},
	prepare: func(r *run) (phases, error) {
		tasks, iters := r.int("tasks"), r.int("iters")
		d := time.Duration(r.int("us")) * time.Microsecond
		lat := r.histogram()
		var wakeups atomic.Uint64
		body := func() error {
			var wg sync.WaitGroup
			wg.Add(int(tasks))
			for t := int64(0); t < tasks; t++ {
				go func() {
					for k := int64(0); k < iters; k++ {
						deadline := time.Now().Add(d)
						time.Sleep(time.Until(deadline))
						lat.record(int64(time.Since(deadline)))
						wakeups.Add(1)
					}
					wg.Done()
				}()
			}
			wg.Wait()
			r.ops = wakeups.Load()
			return nil
		}
		return phases{body, wakeups.Load}, nil
	},
}

// ring: goroutine i receives the token from its inbox and passes token+1
// to goroutine i+1's, by an os.Pipe write+read (via=pipe, through the
// netpoller) or a channel of one (via=chan). Whoever receives `hops` is the
// holder: it sends a stop mark (-1) round the ring and waits for it to come
// back. ops = hops forwarded; checksum = holder + tasks * forwarded.
var ringWL = workload{
	name:   "ring",
	params: []string{"tasks", "hops", "via"},
	prepare: func(r *run) (phases, error) {
		n, hops, via := r.int("tasks"), r.int("hops"), r.word("via")
		var forwarded, holder atomic.Int64
		holder.Store(-1)
		recv := make([]func() (int64, bool), n)
		send := make([]func(int64), n) // send[i] puts into i's inbox
		var files []*os.File
		for i := range recv {
			if via == "chan" {
				c := make(chan int64, 1)
				recv[i] = func() (int64, bool) { v, ok := <-c; return v, ok }
				send[i] = func(v int64) { c <- v }
				continue
			}
			rd, wr, err := os.Pipe()
			if err != nil {
				closeAll(files)
				return phases{}, fail("ring: pipe %d of %d: %v", i+1, n, err)
			}
			files = append(files, rd, wr)
			recv[i] = func() (int64, bool) {
				var b [8]byte
				if _, err := io.ReadFull(rd, b[:]); err != nil {
					return 0, false
				}
				return int64(binary.LittleEndian.Uint64(b[:])), true
			}
			send[i] = func(v int64) {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], uint64(v))
				wr.Write(b[:])
			}
		}
		task := func(i int64, wg *sync.WaitGroup) {
			defer wg.Done()
			next := send[(i+1)%n]
			for {
				v, ok := recv[i]()
				switch {
				case !ok:
					return
				case v < 0: // the stop mark: pass it on, unless it came home
					if holder.Load() != i {
						next(-1)
					}
					return
				case v == hops:
					holder.Store(i)
					next(-1)
				default:
					forwarded.Add(1)
					next(v + 1)
				}
			}
		}
		body := func() error {
			defer closeAll(files)
			var wg sync.WaitGroup
			wg.Add(int(n))
			for i := int64(0); i < n; i++ {
				go task(i, &wg)
			}
			send[0](0)
			wg.Wait()
			r.ops = uint64(forwarded.Load())
			return nil
		}
		verify := func() uint64 { return uint64(holder.Load() + n*forwarded.Load()) }
		return phases{body, verify}, nil
	},
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
