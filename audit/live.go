package audit

import (
	"context"

	"github.com/robotlabor/billing/eventstore"
)

// livePage is how many events VerifyStore reads at a time.
const livePage = 4096

// VerifyStore feeds v the whole log of store up to its head when called,
// telling progress (when not nil) each page's last position. Pages are
// read one ahead, on another goroutine, while the last is checked.
func VerifyStore(ctx context.Context, store eventstore.Store, v *Verifier, progress func(eventstore.Position)) error {
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages, read := make(chan []eventstore.RecordedEvent, 1), make(chan error, 1)
	go func() {
		defer close(pages)
		read <- readLog(ctx, store, head, pages)
	}()
	for page := range pages {
		for _, rec := range page {
			if err := v.Add(rec); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(page[len(page)-1].Position)
		}
	}
	return <-read
}

// readLog sends the pages of the log up to head.
func readLog(ctx context.Context, store eventstore.Store, head eventstore.Position, pages chan<- []eventstore.RecordedEvent) error {
	for pos := eventstore.Start; pos < head; {
		recs, err := store.ReadAll(ctx, pos, livePage)
		if err != nil || len(recs) == 0 {
			return err
		}
		pos = recs[len(recs)-1].Position
		for len(recs) > 0 && recs[len(recs)-1].Position > head {
			recs = recs[:len(recs)-1]
		}
		if len(recs) == 0 {
			return nil
		}
		select {
		case pages <- recs:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
