package audit

import (
	"context"

	"github.com/robotlabor/billing/eventstore"
)

// livePage is how many events VerifyStore reads at a time.
const livePage = 4096

// VerifyStore feeds v the whole log of store up to its head when called,
// telling progress (when not nil) each event's position.
func VerifyStore(ctx context.Context, store eventstore.Store, v *Verifier, progress func(eventstore.Position)) error {
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	for pos := eventstore.Start; pos < head; {
		recs, err := store.ReadAll(ctx, pos, livePage)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, rec := range recs {
			if rec.Position > head {
				return nil
			}
			if err := v.Add(rec); err != nil {
				return err
			}
		}
		pos = recs[len(recs)-1].Position
		if progress != nil {
			progress(pos)
		}
	}
	return nil
}
