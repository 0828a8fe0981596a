package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// concurrentUploadsN is how many uploads run at once in concurrentUploads.
const concurrentUploadsN = 20

// concurrentUploads: 20 customers each upload a file at once, end to end
// (StartAttachmentUpload → PUT → CompleteAttachmentUpload → the chat's
// agent receives APPROVED), against 20 concurrent bare PUTs each streamed
// into a file and fsynced. Aggregate MB/s: all the bytes over the time from
// the first start to the last approval.
func (b *bench) concurrentUploads(ctx context.Context) ([]Row, error) {
	type customer struct {
		chat
		agent *socket
	}
	customers := make([]customer, concurrentUploadsN)
	for i := range customers {
		c, agent, err := b.chatWithAgent(ctx)
		if err != nil {
			return nil, err
		}
		defer agent.conn.CloseNow()
		customers[i] = customer{c, agent}
	}
	data := pattern(b.o.UploadMB << 20)

	// all runs f for each of the 20 at once and returns the wall time.
	all := func(f func(i int) error) (time.Duration, error) {
		var wg sync.WaitGroup
		errs := make(chan error, concurrentUploadsN)
		t0 := time.Now()
		for i := range concurrentUploadsN {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(i); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		d := time.Since(t0)
		close(errs)
		return d, <-errs
	}
	// Rounds of 20 uploads each side runs, alternating, so that a hiccup
	// of the machine falls on both: 3 with the default -rounds 10.
	rounds := max(1, b.o.Rounds/3)
	var up, base time.Duration
	for round := range rounds {
		d, err := all(func(i int) error {
			c := customers[i]
			id, err := b.upload(ctx, c.customerToken, fmt.Sprintf("concurrent-%d-%d.txt", round, i), data)
			if err != nil {
				return err
			}
			return awaitApproved(ctx, c.agent, id)
		})
		if err != nil {
			return nil, err
		}
		up += d
		d, err = all(func(i int) error {
			return b.put(ctx, fmt.Sprintf("%s/upload/c%d-%d", b.baseline.url, round, i), data)
		})
		if err != nil {
			return nil, err
		}
		base += d
	}
	total := int64(len(data)) * concurrentUploadsN * int64(rounds)
	pu, bu := mbps(total, up), mbps(total, base)
	return []Row{{Figure: fmt.Sprintf("%d concurrent %d MB uploads, end to end, aggregate (MB/s)", concurrentUploadsN, b.o.UploadMB),
		Parley: fmt.Sprintf("%.0f", pu), Baseline: fmt.Sprintf("%.0f (bare PUT, fsync, %d concurrent)", bu, concurrentUploadsN),
		Ratio: ratio(pu, bu), Target: "≥ 0.8× baseline", Met: pu >= 0.8*bu}}, nil
}

// awaitApproved reads s until attachment id is APPROVED; REJECTED is an error.
func awaitApproved(ctx context.Context, s *socket, id string) error {
	for {
		it, err := s.item(ctx)
		if err != nil {
			return err
		}
		atts, _ := it["Attachments"].([]any)
		if len(atts) == 0 {
			continue
		}
		a, _ := atts[0].(map[string]any)
		if a["AttachmentId"] != id {
			continue
		}
		switch a["Status"] {
		case "APPROVED":
			return nil
		case "REJECTED":
			return fmt.Errorf("upload %s was rejected: %v", id, it["Content"])
		}
	}
}
