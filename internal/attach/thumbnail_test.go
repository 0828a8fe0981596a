package attach

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testfiles"
)

// TestThumbnailMemoryIsBounded: four large PNGs thumbnailed at once cost
// about what the decode budget allows, not four times one: here the budget
// holds one 2000×1500 thumbnail's making (26 MB: the decoded image and the
// scaler's intermediate), and the heap, sampled while they run, grows by
// under two (unbounded, the four take four).
func TestThumbnailMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes large images")
	}
	const w, h = 2000, 1500
	big := testfiles.PNG(w, h)
	defer func(b *budget) { decodeBudget = b }(decodeBudget)
	cost := decodeCost(image.Config{ColorModel: color.RGBAModel, Width: w, Height: h})
	decodeBudget = newBudget(cost)
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // the heap then follows what is live
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	peakHeap := testfiles.HeapPeak(2 * time.Millisecond)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, _, err := Thumbnail(context.Background(), bytes.NewReader(big), int64(len(big)), "image/png"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	grew := int64(peakHeap()) - int64(base.HeapAlloc)
	t.Logf("heap grew by %d MB at most; one thumbnail's making costs %d MB", grew>>20, cost>>20)
	if grew > 2*cost {
		t.Errorf("four thumbnails at once grew the heap by %d MB, want under %d MB (the budget holds one)", grew>>20, 2*cost>>20)
	}
}

// TestSmallImageDoesNotWaitForLarge: with the budget taken up by a large
// decode and another large one waiting, a small image still goes through.
func TestSmallImageDoesNotWaitForLarge(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	if err := b.acquire(ctx, 80); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- b.acquire(ctx, 90) }()
	time.Sleep(20 * time.Millisecond)
	small, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := b.acquire(small, 10); err != nil {
		t.Fatalf("a small decode waited behind a large one: %v", err)
	}
	b.release(10)
	select {
	case err := <-waiting:
		t.Fatalf("the second large decode got in while the first ran: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	b.release(80)
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	// A weight over the whole budget takes all of it, and a cancelled wait
	// gives up.
	b.release(90)
	if err := b.acquire(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if err := b.acquire(short, 1); err == nil {
		t.Error("acquired from an exhausted budget")
	}
}

// countingReaderAt counts reads: on S3 each is a ranged GET.
type countingReaderAt struct {
	r     io.ReaderAt
	reads int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

type discardScanner struct{}

func (discardScanner) Scan(_ context.Context, r io.Reader) (string, error) {
	_, err := io.Copy(io.Discard, r)
	return "", err
}

// TestReadsAreFewAndLarge: making a preview and scanning read a file in
// large pieces, not in a decoder's 4 KB or a copy's 32 KB, since every
// read of a file kept in S3 is a ranged GET.
func TestReadsAreFewAndLarge(t *testing.T) {
	jpg := withSegments(testfiles.JPEG(400, 300), 30, 60_000) // 1.8 MB before the frame header
	c := &countingReaderAt{r: bytes.NewReader(jpg)}
	if _, _, err := Thumbnail(context.Background(), c, int64(len(jpg)), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if max := 3 * (len(jpg)/(256<<10) + 1); c.reads > max {
		t.Errorf("a preview of a %d-byte JPEG took %d reads, want at most %d", len(jpg), c.reads, max)
	}
	data := bytes.Repeat([]byte("clean bytes "), 400_000)
	c = &countingReaderAt{r: bytes.NewReader(data)}
	if _, err := Scan(context.Background(), c, int64(len(data)), Verdict{Approved: true}, discardScanner{}); err != nil {
		t.Fatal(err)
	}
	if max := len(data)/(256<<10) + 2; c.reads > max {
		t.Errorf("scanning %d bytes took %d reads, want at most %d", len(data), c.reads, max)
	}
}
