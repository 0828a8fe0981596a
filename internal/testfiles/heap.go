package testfiles

import (
	"runtime"
	"time"
)

// HeapPeak samples the heap in use (HeapAlloc) every interval until the
// returned stop is called; stop waits for the sampler and returns the
// largest value seen. Tests that bound memory run a low GOGC meanwhile, so
// that the peak follows what is live rather than the collector's pacing.
func HeapPeak(every time.Duration) (stop func() uint64) {
	done := make(chan struct{})
	result := make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				result <- peak
				return
			case <-time.After(every):
			}
		}
	}()
	return func() uint64 {
		close(done)
		return <-result
	}
}
