package chatcli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// bar draws a progress bar on stderr, at most ten times a second; with
// --json it stays silent, so that stdout and stderr remain clean for scripts.
type bar struct {
	w     io.Writer
	label string
	last  time.Time
	shown bool
}

func (c *cli) progressBar(label string) *bar {
	if c.json {
		return &bar{}
	}
	return &bar{w: c.stderr, label: label}
}

func (b *bar) update(done, total int64) {
	if b.w == nil || (time.Since(b.last) < 100*time.Millisecond && done < total) {
		return
	}
	b.last, b.shown = time.Now(), true
	const width = 30
	filled := width
	pct := 100.0
	if total > 0 {
		filled = int(int64(width) * done / total)
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(b.w, "\r%s [%s%s] %5.1f%% %s / %s", b.label, strings.Repeat("#", filled), strings.Repeat(" ", width-filled),
		pct, size(done), size(total))
}

func (b *bar) finish(err error) {
	if b.w == nil || !b.shown {
		return
	}
	if err != nil {
		fmt.Fprintln(b.w, " failed")
		return
	}
	fmt.Fprintln(b.w, " done")
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
