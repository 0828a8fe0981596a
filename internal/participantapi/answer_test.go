package participantapi

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/awswire"
)

// TestWriteItemAsWriteJSON: SendMessage's and SendEvent's hand-written
// answer is what WriteJSON writes, header and body, byte for byte.
func TestWriteItemAsWriteJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 17, 4, 5, 678_900_000, time.FixedZone("x", 3600))
	for _, id := range []string{"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "", "<a&b>", "quote\"back\\slash", "é\u2028", "\x01"} {
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		writeItem(got, id, at)
		awswire.WriteJSON(want, itemOut{Id: id, AbsoluteTime: awswire.FormatTime(at)})
		if got.Code != want.Code || got.Body.String() != want.Body.String() || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("id %q: %d %s %q, want %d %s %q", id, got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}

func BenchmarkWriteItem(b *testing.B) {
	w := httptest.NewRecorder()
	at := time.Now()
	for b.Loop() {
		w.Body.Reset()
		writeItem(w, "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", at)
	}
}
