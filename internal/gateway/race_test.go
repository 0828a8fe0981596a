//go:build race

package gateway

// raceEnabled: the race detector makes goroutine stacks and allocations
// larger, so memory thresholds allow for it.
const raceEnabled = true
