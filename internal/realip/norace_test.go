//go:build !race

package realip

// raceEnabled says whether the race detector is built in: it adds
// allocations of its own, so allocation counts are checked without it.
const raceEnabled = false
