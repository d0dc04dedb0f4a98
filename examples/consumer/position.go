package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// SequenceOf returns the stream sequence of the message holding the event at
// log position pos. Sequences and positions grow together, because the relay
// publishes the log in order, but they are not equal in general: positions
// need not be contiguous (EventStoreDB), and a stream that was purged and
// refilled numbers its messages after the old ones. So it searches, reading
// O(log n) messages. It returns jetstream.ErrMsgNotFound when no message
// holds pos.
func SequenceOf(ctx context.Context, stream jetstream.Stream, pos uint64) (uint64, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.State.Msgs == 0 {
		return 0, jetstream.ErrMsgNotFound
	}
	lo, hi := info.State.FirstSeq, info.State.LastSeq
	for lo <= hi {
		mid := lo + (hi-lo)/2
		msg, err := stream.GetMsg(ctx, mid)
		if err != nil {
			return 0, fmt.Errorf("read message %d: %w", mid, err)
		}
		var m struct {
			Position uint64 `json:"position"`
		}
		if err := json.Unmarshal(msg.Data, &m); err != nil {
			return 0, fmt.Errorf("message %d: %w", mid, err)
		}
		switch {
		case m.Position == pos:
			return mid, nil
		case m.Position < pos:
			lo = mid + 1
		default:
			hi = mid - 1 // mid ≥ FirstSeq ≥ 1: no underflow
		}
	}
	return 0, jetstream.ErrMsgNotFound
}
