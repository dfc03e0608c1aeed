package main

// The CPU-bound workloads of workloads/cpu.c: fib (fork-join) and parfor
// (independent equal chunks).

import "sync"

// fib: fork-join Fibonacci: a goroutine for n-1, recurse on n-2 here,
// wait; serial below the cutoff. ops = calls of the recursion;
// checksum = fib(n).
var fibWL = workload{
	name:   "fib",
	params: []string{"n", "cutoff"},
	prepare: func(r *run) (phases, error) {
		n, cutoff := int(r.int("n")), int(r.int("cutoff"))
		var result uint64
		body := func() error {
			var calls uint64
			result, calls = fibTask(n, cutoff)
			r.ops = calls
			return nil
		}
		return phases{body, func() uint64 { return result }}, nil
	},
}

// fibTask returns fib(n) and the calls made computing it.
func fibTask(n, cutoff int) (uint64, uint64) {
	if n <= cutoff || n < 2 {
		return fibSerial(n)
	}
	var a, ac uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		a, ac = fibTask(n-1, cutoff)
		wg.Done()
	}()
	b, bc := fibTask(n-2, cutoff)
	wg.Wait()
	return a + b, 1 + ac + bc
}

func fibSerial(n int) (uint64, uint64) {
	if n < 2 {
		return uint64(n), 1
	}
	a, ac := fibSerial(n - 1)
	b, bc := fibSerial(n - 2)
	return a + b, 1 + ac + bc
}

// chunkHash is cpu.c's chunk_hash: `work` rounds of splitmix64 from seed,
// with the same uint64 wrap-around.
func chunkHash(seed uint64, work int64) uint64 {
	x := seed
	for i := int64(0); i < work; i++ {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		x ^= z ^ (z >> 31)
	}
	return x
}

// parfor: `tasks` goroutines, chunk i hashing from seed i+1.
// ops = tasks * work; checksum = the wrapping sum of the chunks' hashes.
var parforWL = workload{
	name:   "parfor",
	params: []string{"tasks", "work"},
	prepare: func(r *run) (phases, error) {
		n, work := r.int("tasks"), r.int("work")
		outs := make([]uint64, n)
		body := func() error {
			var wg sync.WaitGroup
			wg.Add(int(n))
			for i := int64(0); i < n; i++ {
				go func(i int64) {
					outs[i] = chunkHash(uint64(i)+1, work)
					wg.Done()
				}(i)
			}
			wg.Wait()
			r.ops = uint64(n * work)
			return nil
		}
		verify := func() uint64 {
			var sum uint64
			for _, v := range outs {
				sum += v
			}
			return sum
		}
		return phases{body, verify}, nil
	},
}
