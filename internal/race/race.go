//go:build race

// Package race says whether the race detector is built in. It makes
// allocations and goroutine stacks larger, so tests that count
// allocations or bound memory allow for it.
package race

// Enabled reports whether the race detector is built in.
const Enabled = true
