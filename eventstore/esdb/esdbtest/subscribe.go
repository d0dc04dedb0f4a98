package esdbtest

import (
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// subscribeAll serves a catch-up subscription to $all: a confirmation,
// the events after the start position (exclusive) that pass the filter,
// caught-up once the events stored at the start are sent, then live
// events. A filtered subscription also gets a checkpoint every so many
// events read, matching or not, so a client can save its place while a
// filter skips long runs.
func (s *streamsServer) subscribeAll(opts *streams.ReadReq_Options_AllOptions, f filter, send func(eventstore.RecordedEvent) error, out streams.Streams_ReadServer) error {
	ctx := out.Context()
	head, err := s.store.Head(ctx)
	if err != nil {
		return storeError(err)
	}
	from := eventstore.Start
	switch p := opts.GetAllOption().(type) {
	case *streams.ReadReq_Options_AllOptions_Position:
		if from, err = s.checkPosition(ctx, p.Position.GetCommitPosition()); err != nil {
			return err
		}
	case *streams.ReadReq_Options_AllOptions_End:
		from = head
	}
	sub, err := s.store.SubscribeAll(ctx, from)
	if err != nil {
		return storeError(err)
	}
	defer sub.Close()
	if err := out.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}}); err != nil {
		return err
	}
	caughtUp := from >= head
	if caughtUp {
		if err := sendCaughtUp(out); err != nil {
			return err
		}
	}
	read := 0
	for {
		evs, err := sub.Next(ctx)
		if err != nil {
			return storeError(err)
		}
		for _, rec := range evs {
			if f.matches(rec) {
				if err := send(rec); err != nil {
					return err
				}
			}
			if read++; f.checkpointEvery > 0 && read%f.checkpointEvery == 0 {
				if err := out.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{
					CommitPosition: wirePosition(rec.Position), PreparePosition: wirePosition(rec.Position),
				}}}); err != nil {
					return err
				}
			}
		}
		if !caughtUp && evs[len(evs)-1].Position >= head {
			caughtUp = true
			if err := sendCaughtUp(out); err != nil {
				return err
			}
		}
	}
}

func sendCaughtUp(out streams.Streams_ReadServer) error {
	return out.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}})
}
