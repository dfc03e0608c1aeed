package main

// The mixed workloads of workloads/mixed.c: blockio (plain blocking
// read()s beside computing goroutines: Go hands the P of a goroutine stuck
// in a syscall to another thread) and hoglat (goroutines spinning with no
// calls beside a probe sleeping 1 ms at a time: only Go's asynchronous
// preemption can take the CPU from them).

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const chunkRounds = 2000 // mixed.c's CHUNK_ROUNDS: a few microseconds

func spinHash(x uint64, rounds int) uint64 {
	for i := 0; i < rounds; i++ {
		x = (x^(x>>31))*0x9E3779B97F4A7C15 + 1
	}
	return x
}

// blockioPhase runs ncomp computers over a window of `delay` beside nblock
// goroutines blocked in read(2) on pipes that a feeder fills at the end of
// the window. Returns the chunks the computers finished inside it.
func blockioPhase(ncomp, nblock int, delay time.Duration, bytes *atomic.Int64) (int64, error) {
	var entered atomic.Int32
	var chunks, sink atomic.Uint64
	var wg sync.WaitGroup
	from := time.Now()
	to := from.Add(delay)
	fds := make([][2]int, nblock)
	for i := range fds {
		if err := syscall.Pipe2(fds[i][:], syscall.O_CLOEXEC); err != nil {
			for _, f := range fds[:i] {
				syscall.Close(f[0])
				syscall.Close(f[1])
			}
			return -1, fail("blockio: pipe: %v", err)
		}
	}
	defer func() {
		for _, f := range fds {
			syscall.Close(f[0])
			syscall.Close(f[1])
		}
	}()
	if nblock > 0 {
		wg.Add(1)
		go func() { // the outside world: feeds every pipe when the window ends
			defer wg.Done()
			time.Sleep(time.Until(to))
			for i, f := range fds {
				var b [8]byte
				b[0] = byte(i)
				syscall.Write(f[1], b[:])
			}
		}()
	}
	for i := 0; i < nblock; i++ {
		wg.Add(1)
		go func(fd int) {
			defer wg.Done()
			var b [8]byte
			entered.Add(1)
			if n, _ := syscall.Read(fd, b[:]); n > 0 { // really blocks this thread
				bytes.Add(int64(n))
			}
		}(fds[i][0])
	}
	for i := 0; i < ncomp; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			x, mine := seed, uint64(0)
			for entered.Load() < int32(nblock) {
				runtime.Gosched()
			}
			for {
				x = spinHash(x, chunkRounds)
				now := time.Now()
				if !now.Before(to) {
					break
				}
				if !now.Before(from) {
					mine++
				}
				runtime.Gosched() // a cooperative citizen, as in mixed.c
			}
			chunks.Add(mine)
			sink.Add(x)
		}(uint64(i) + 1)
	}
	wg.Wait()
	return int64(chunks.Load()), nil
}

// blockio: compute alone for delay_us, then again beside `blockers`
// blocked reads. metrics: chunks_alone, chunks_blocked, progress_ratio.
// ops = chunks in both windows; checksum = bytes the blockers read.
var blockioWL = workload{
	name:   "blockio",
	params: []string{"blockers", "delay_us"},
	prepare: func(r *run) (phases, error) {
		nblock := int(r.int("blockers"))
		delay := time.Duration(r.int("delay_us")) * time.Microsecond
		var bytes atomic.Int64
		body := func() error {
			base, err := blockioPhase(r.procs, 0, delay, &bytes)
			if err != nil {
				return err
			}
			blocked, err := blockioPhase(r.procs, nblock, delay, &bytes)
			if err != nil {
				return err
			}
			ratio := 0.0
			if base > 0 {
				ratio = float64(blocked) / float64(base)
			}
			r.metric("chunks_alone", float64(base))
			r.metric("chunks_blocked", float64(blocked))
			r.metric("progress_ratio", ratio)
			r.ops = uint64(base + blocked)
			return nil
		}
		return phases{body, func() uint64 { return uint64(bytes.Load()) }}, nil
	},
}

// hoglat: `hogs` goroutines spin with no calls for duration_ms while a
// probe sleeps 1 ms at a time; latency_ns is the probe's lateness. A hog
// spins on an atomic flag (an intrinsic, not a call, so not a safe point)
// that the main goroutine sets when the duration is up; that goroutine
// itself needs a P to wake, so with every P hogged the end may come one
// preemption (~10 ms) late. ops = probe wake-ups; checksum = hogs finished.
var hoglatWL = workload{
	name:   "hoglat",
	params: []string{"hogs", "duration_ms"},
	prepare: func(r *run) (phases, error) {
		hogs := r.int("hogs")
		dur := time.Duration(r.int("duration_ms")) * time.Millisecond
		lat := r.histogram()
		var done, stop, asleep atomic.Int32
		var wakeups uint64
		body := func() error {
			var wg sync.WaitGroup
			end := time.Now().Add(dur)
			probeDone := make(chan struct{})
			go func() {
				for done.Load() < int32(hogs) {
					deadline := time.Now().Add(time.Millisecond)
					asleep.Store(1)
					time.Sleep(time.Until(deadline))
					lat.record(int64(time.Since(deadline)))
					wakeups++
				}
				close(probeDone)
			}()
			for asleep.Load() == 0 { // hogs start once the probe sleeps
				time.Sleep(20 * time.Microsecond)
			}
			wg.Add(int(hogs))
			for i := int64(0); i < hogs; i++ {
				go func() {
					for stop.Load() == 0 {
					}
					done.Add(1)
					wg.Done()
				}()
			}
			time.Sleep(time.Until(end))
			stop.Store(1)
			wg.Wait()
			<-probeDone
			r.metric("probe_wakeups", float64(wakeups))
			r.ops = wakeups
			return nil
		}
		return phases{body, func() uint64 { return uint64(done.Load()) }}, nil
	},
}
