package main

// hist is the log-linear latency histogram of workloads/harness/hist.c,
// so latency_ns means the same for the Go peer: values below 64 ns get a
// bucket each; above, each power of two is split into 64 buckets. A
// percentile is the midpoint of the bucket holding the ceil(p/100 * count)
// th value, clamped to [min, max]; exactly max for the last rank.
// Recording is safe from any goroutine (atomics).

import (
	"math"
	"math/bits"
	"sync/atomic"
)

const (
	histSubBits  = 6
	histSub      = 1 << histSubBits
	histNBuckets = histSub + (63-histSubBits)*histSub
)

type hist struct {
	count    atomic.Uint64
	min, max atomic.Int64
	bucket   [histNBuckets]atomic.Uint64
}

func (h *hist) reset() {
	h.count.Store(0)
	h.min.Store(math.MaxInt64)
	h.max.Store(math.MinInt64)
	for i := range h.bucket {
		h.bucket[i].Store(0)
	}
}

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(uint64(v))
	shift := e - histSubBits
	top := int(v >> shift)
	return histSub + shift*histSub + (top - histSub)
}

func histLow(idx int) int64 {
	if idx < histSub {
		return int64(idx)
	}
	shift := (idx - histSub) / histSub
	top := int64(histSub + (idx-histSub)%histSub)
	return top << shift
}

func histHigh(idx int) int64 {
	if idx < histSub {
		return int64(idx)
	}
	shift := (idx - histSub) / histSub
	return histLow(idx) + (int64(1)<<shift - 1)
}

func (h *hist) record(v int64) { h.recordN(v, 1) }

// recordN records v n times.
func (h *hist) recordN(v int64, n uint64) {
	if n == 0 {
		return
	}
	if v < 0 {
		v = 0
	}
	h.bucket[histIndex(v)].Add(n)
	h.count.Add(n)
	for cur := h.min.Load(); v < cur && !h.min.CompareAndSwap(cur, v); cur = h.min.Load() {
	}
	for cur := h.max.Load(); v > cur && !h.max.CompareAndSwap(cur, v); cur = h.max.Load() {
	}
}

func (h *hist) minimum() int64 {
	if h.count.Load() == 0 {
		return 0
	}
	return h.min.Load()
}

func (h *hist) maximum() int64 {
	if h.count.Load() == 0 {
		return 0
	}
	return h.max.Load()
}

func (h *hist) percentile(p float64) int64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= n {
		return h.maximum()
	}
	idx, seen := histNBuckets-1, uint64(0)
	for i := range h.bucket {
		if seen += h.bucket[i].Load(); seen >= rank {
			idx = i
			break
		}
	}
	low := histLow(idx)
	v := low + (histHigh(idx)-low)/2
	if hi := h.maximum(); v > hi {
		v = hi
	}
	if lo := h.minimum(); v < lo {
		v = lo
	}
	return v
}
