//go:build !unix

package netlimit

func fileLimit() int { return 0 }
