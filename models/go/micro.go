package main

// The micro workloads of workloads/micro.c: spawn, yield, pingpong, mutex.
// Each isolates one runtime cost; ns_per_op is that cost.

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// spawn: start and join `tasks` empty goroutines, `batch` alive at a time.
// ops = tasks; checksum = goroutines whose body ran.
var spawnWL = workload{
	name:   "spawn",
	params: []string{"tasks", "batch"},
	prepare: func(r *run) (phases, error) {
		n, batch := r.int("tasks"), r.int("batch")
		var ran atomic.Uint64
		body := func() error {
			var wg sync.WaitGroup
			for done := int64(0); done < n; done += batch {
				k := min64(batch, n-done)
				wg.Add(int(k))
				for i := int64(0); i < k; i++ {
					go func() {
						ran.Add(1)
						wg.Done()
					}()
				}
				wg.Wait()
			}
			r.ops = uint64(n)
			return nil
		}
		return phases{body, ran.Load}, nil
	},
}

// yield: `tasks` goroutines each call runtime.Gosched `iters` times.
// ops = checksum = tasks * iters.
var yieldWL = workload{
	name:   "yield",
	params: []string{"tasks", "iters"},
	prepare: func(r *run) (phases, error) {
		tasks, iters := r.int("tasks"), r.int("iters")
		var total atomic.Uint64
		body := func() error {
			var wg sync.WaitGroup
			wg.Add(int(tasks))
			for t := int64(0); t < tasks; t++ {
				go func() {
					var n uint64
					for i := int64(0); i < iters; i++ {
						runtime.Gosched()
						n++
					}
					total.Add(n)
					wg.Done()
				}()
			}
			wg.Wait()
			r.ops = uint64(tasks * iters)
			return nil
		}
		return phases{body, total.Load}, nil
	},
}

// pingpong: round trips of 1..iters over two unbuffered channels.
// ops = iters; checksum = the sum of the values that came back.
var pingpongWL = workload{
	name:   "pingpong",
	params: []string{"iters"},
	prepare: func(r *run) (phases, error) {
		iters := uint64(r.int("iters"))
		ping, pong := make(chan uint64), make(chan uint64)
		var sum uint64
		body := func() error {
			done := make(chan struct{})
			go func() {
				for v := range ping {
					pong <- v
				}
				close(done)
			}()
			for i := uint64(1); i <= iters; i++ {
				ping <- i
				sum += <-pong
			}
			close(ping)
			<-done
			r.ops = iters
			return nil
		}
		return phases{body, func() uint64 { return sum }}, nil
	},
}

// mutex: `tasks` goroutines each increment one counter `iters` times
// under one sync.Mutex. ops = checksum = tasks * iters.
var mutexWL = workload{
	name:   "mutex",
	params: []string{"tasks", "iters"},
	prepare: func(r *run) (phases, error) {
		tasks, iters := r.int("tasks"), r.int("iters")
		var mu sync.Mutex
		var counter uint64 // guarded by mu
		body := func() error {
			var wg sync.WaitGroup
			wg.Add(int(tasks))
			for t := int64(0); t < tasks; t++ {
				go func() {
					for i := int64(0); i < iters; i++ {
						mu.Lock()
						counter++
						mu.Unlock()
					}
					wg.Done()
				}()
			}
			wg.Wait()
			r.ops = uint64(tasks * iters)
			return nil
		}
		return phases{body, func() uint64 { return counter }}, nil
	},
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
