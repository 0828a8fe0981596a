//go:build race

package realip

const raceEnabled = true
