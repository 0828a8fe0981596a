package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
)

// copyChunk is the size of the buffers an upload is copied through; three
// of them are in use per upload at most, so memory stays bounded whatever
// the file's size.
const copyChunk = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, copyChunk); return &b }}

// CopyHashed copies up to limit bytes from src to dst and returns how many
// it copied and their SHA-256 (hex). Hashing runs on its own goroutine, one
// chunk behind the copy, so that a file is hashed in the time it takes to
// write it rather than after.
func CopyHashed(dst io.Writer, src io.Reader, limit int64) (int64, string, error) {
	src = io.LimitReader(src, limit)
	toHash := make(chan *[]byte, 2)
	hashed := make(chan string)
	var hashedBytes sync.WaitGroup
	go func() {
		h := sha256.New()
		for b := range toHash {
			h.Write(*b)
			*b = (*b)[:cap(*b)]
			chunks.Put(b)
			hashedBytes.Done()
		}
		hashed <- hex.EncodeToString(h.Sum(nil))
	}()
	var n int64
	var err error
	for {
		b := chunks.Get().(*[]byte)
		k, rerr := io.ReadFull(src, *b)
		if k > 0 {
			if _, werr := dst.Write((*b)[:k]); werr != nil {
				err = werr
			}
			n += int64(k)
			*b = (*b)[:k]
			hashedBytes.Add(1)
			toHash <- b
		} else {
			chunks.Put(b)
		}
		if err != nil {
			break
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(toHash)
	sum := <-hashed
	return n, sum, err
}
