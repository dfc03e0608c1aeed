package main

// The many-task workloads of workloads/tree.c: idle (memory per parked
// goroutine) and skynet (a 10-ary tree of goroutines summing through
// channels).

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// rssBytes is the resident set size now (/proc/self/statm), or -1.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	var total, res int64
	if n, _ := fmt.Sscan(string(b), &total, &res); n != 2 {
		return -1
	}
	return res * int64(os.Getpagesize())
}

// idle: `tasks` goroutines parked receiving from one channel, then all
// woken by close. metrics: rss_bytes_before, rss_bytes_parked,
// bytes_per_task. ops = tasks spawned; checksum = goroutines the close woke.
var idleWL = workload{
	name:   "idle",
	params: []string{"tasks"},
	prepare: func(r *run) (phases, error) {
		n := r.int("tasks")
		gate := make(chan struct{})
		var parked, woken atomic.Int64
		body := func() error {
			var wg sync.WaitGroup
			before := rssBytes()
			wg.Add(int(n))
			for i := int64(0); i < n; i++ {
				go func() {
					parked.Add(1)
					if _, ok := <-gate; !ok {
						woken.Add(1)
					}
					wg.Done()
				}()
			}
			for parked.Load() < n { // every goroutine has reached its receive
				time.Sleep(200 * time.Microsecond)
			}
			after := rssBytes()
			if before > 0 && after > 0 {
				r.metric("rss_bytes_before", float64(before))
				r.metric("rss_bytes_parked", float64(after))
				r.metric("bytes_per_task", float64(after-before)/float64(n))
			}
			close(gate)
			wg.Wait()
			r.ops = uint64(n)
			return nil
		}
		return phases{body, func() uint64 { return uint64(woken.Load()) }}, nil
	},
}

// skynet: the root (the main goroutine) and every inner node start 10
// children and sum what they send on a buffered channel of 10; leaf i
// sends i. ops = goroutines of the tree + 1 (the root); checksum = N(N-1)/2.
var skynetWL = workload{
	name:   "skynet",
	params: []string{"tasks"},
	prepare: func(r *run) (phases, error) {
		n := r.int("tasks")
		var sum int64
		var spawned atomic.Int64
		body := func() error {
			p := int64(1)
			for p < n {
				p *= 10
			}
			if p != n {
				return fail("skynet: tasks must be a power of 10, not %d", n)
			}
			out := make(chan int64, 1)
			skyNode(0, n, out, &spawned)
			sum = <-out
			r.ops = uint64(spawned.Load()) + 1
			return nil
		}
		return phases{body, func() uint64 { return uint64(sum) }}, nil
	},
}

func skyNode(num, size int64, out chan<- int64, spawned *atomic.Int64) {
	if size == 1 {
		out <- num
		return
	}
	rc := make(chan int64, 10)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go skyNode(num+i*sub, sub, rc, spawned)
	}
	spawned.Add(10)
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	out <- sum
}
