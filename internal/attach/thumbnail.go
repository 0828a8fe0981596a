package attach

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"sync"

	"golang.org/x/image/draw"
)

// Thumbnails are at most ThumbSize pixels on their longer side, and made
// only from images of at most MaxThumbSourcePixels: decoding allocates 4
// bytes a pixel, so a larger image gets no preview (its file card still
// shows) rather than costing hundreds of megabytes.
const (
	ThumbSize            = 320
	MaxThumbSourcePixels = 24_000_000
)

// ErrNoThumbnail is returned for files that get no preview.
var ErrNoThumbnail = errors.New("attach: no thumbnail for this file")

// ThumbDecodeBudget bounds the memory of the decodes in flight, estimated
// from each image's header before it is decoded: concurrent thumbnails
// share it, so that four large photos at once cost what one or two do, while
// small images, which fit beside a large one, do not wait for it.
const ThumbDecodeBudget = 128 << 20

var decodeBudget = newBudget(ThumbDecodeBudget)

// Thumbnail makes a preview of a PNG or JPEG image: scaled to fit ThumbSize,
// turned upright by its EXIF orientation, encoded as PNG (keeping
// transparency) or JPEG. It returns the bytes and their content type. It
// waits, until ctx ends, for room in the decode budget.
func Thumbnail(ctx context.Context, r io.ReaderAt, size int64, contentType string) ([]byte, string, error) {
	if contentType != "image/png" && contentType != "image/jpeg" {
		return nil, "", ErrNoThumbnail
	}
	cfg, format, err := image.DecodeConfig(sequential(r, size))
	if err != nil {
		return nil, "", ErrNoThumbnail
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxThumbSourcePixels {
		return nil, "", ErrNoThumbnail
	}
	cost := decodeCost(cfg)
	if err := decodeBudget.acquire(ctx, cost); err != nil {
		return nil, "", err
	}
	dst, err := scaled(r, size, cfg)
	decodeBudget.release(cost) // the decoded source is garbage from here
	if err != nil {
		return nil, "", err
	}
	orientation := 1
	if format == "jpeg" {
		orientation = exifOrientation(sequential(r, min(size, 128<<10)))
	}
	out := orient(dst, orientation)

	var b bytes.Buffer
	if format == "png" {
		err = png.Encode(&b, out)
		return b.Bytes(), "image/png", err
	}
	err = jpeg.Encode(&b, out, &jpeg.Options{Quality: 82})
	return b.Bytes(), "image/jpeg", err
}

// scaled decodes an image and scales it to fit ThumbSize.
func scaled(r io.ReaderAt, size int64, cfg image.Config) (*image.RGBA, error) {
	src, _, err := image.Decode(sequential(r, size))
	if err != nil {
		return nil, fmt.Errorf("attach: decoding for a thumbnail: %w", err)
	}
	w, h := thumbSize(cfg.Width, cfg.Height)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	return dst, nil
}

// decodeCost estimates the bytes making a thumbnail allocates, from the
// image's header: the decoded image — JPEG decodes to Y'CbCr (at most 3
// bytes a pixel, 4 for CMYK), PNG to 4 bytes a pixel, 8 at 16 bits a
// channel — and the scaler's intermediate of 32 bytes for each pixel of a
// thumbnail-wide, source-high column.
func decodeCost(cfg image.Config) int64 {
	w, h := thumbSize(cfg.Width, cfg.Height)
	scaler := int64(w) * int64(max(h, cfg.Height)) * 32
	perPixel := int64(4)
	switch cfg.ColorModel {
	case color.YCbCrModel:
		perPixel = 3
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model:
		perPixel = 8
	case color.GrayModel:
		perPixel = 1
	}
	return int64(cfg.Width)*int64(cfg.Height)*perPixel + scaler
}

// thumbSize is the size of the thumbnail of a w×h image.
func thumbSize(w, h int) (int, int) {
	if scale := float64(ThumbSize) / float64(max(w, h)); scale < 1 {
		w, h = max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))
	}
	return w, h
}

// budget is a weighted semaphore that lets any waiter through as soon as
// its weight fits, not in arrival order: a small image never waits behind a
// large one that does not fit yet. A weight above the whole budget takes
// the whole budget.
type budget struct {
	mu      sync.Mutex
	size    int64
	free    int64
	changed chan struct{} // closed on every release
}

func newBudget(size int64) *budget {
	return &budget{size: size, free: size, changed: make(chan struct{})}
}

func (b *budget) acquire(ctx context.Context, n int64) error {
	n = min(n, b.size)
	for {
		b.mu.Lock()
		if n <= b.free {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	n = min(n, b.size)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
}

// exifOrientation reads the Orientation tag (1–8) of a JPEG's Exif block,
// or 1 when there is none. Re-encoding drops EXIF, so the rotation it asks
// for must be applied to the pixels.
func exifOrientation(r io.Reader) int {
	data, err := io.ReadAll(r)
	if err != nil || len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return 1
		}
		marker, segLen := data[i+1], int(binary.BigEndian.Uint16(data[i+2:]))
		if marker == 0xDA || segLen < 2 || i+2+segLen > len(data) { // start of scan: no more metadata
			return 1
		}
		seg := data[i+4 : i+2+segLen]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + segLen
	}
	return 1
}

func tiffOrientation(t []byte) int {
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	// Compared before it becomes an int, which may have 32 bits.
	off := bo.Uint32(t[4:8])
	if uint64(off)+2 > uint64(len(t)) {
		return 1
	}
	ifd := int(off)
	n := int(bo.Uint16(t[ifd:]))
	for e := 0; e < n; e++ {
		off := ifd + 2 + e*12
		if off+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[off:]) == 0x0112 {
			if v := int(bo.Uint16(t[off+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient applies an EXIF orientation to an image.
func orient(src *image.RGBA, o int) image.Image {
	if o <= 1 || o > 8 {
		return src
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 { // 5–8 swap width and height
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			}
			dst.SetRGBA(dx, dy, src.RGBAAt(b.Min.X+x, b.Min.Y+y))
		}
	}
	return dst
}
