package server

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// TestFreeOSMemory: the profiler's address collects and returns freed
// memory to the system on a POST (the bench's idle figure reads memory at
// rest through it); garbage is gone afterwards.
func TestFreeOSMemory(t *testing.T) {
	srv := httptest.NewServer(pprofMux())
	defer srv.Close()
	garbage := make([][]byte, 0, 256)
	for range 256 {
		garbage = append(garbage, make([]byte, 64<<10))
	}
	garbage = nil
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := http.Post(srv.URL+"/debug/free-os-memory", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST: %s", resp.Status)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.NumGC == before.NumGC || after.HeapReleased <= before.HeapReleased {
		t.Errorf("no collection or nothing released: GCs %d → %d, released %d → %d", before.NumGC, after.NumGC, before.HeapReleased, after.HeapReleased)
	}
	resp, err = http.Get(srv.URL + "/debug/free-os-memory")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %s, want 405", resp.Status)
	}
}
