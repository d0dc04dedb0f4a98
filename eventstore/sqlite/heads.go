package sqlite

import (
	"slices"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/robotlabor/billing/eventstore"
)

// heads are the streams whose every event this writer committed, with
// their head revision and event ids: an order's stream, created by its
// placement, is appended to again a moment later by its outcome. An
// append that expects the head kept here is decided without reading the
// stream (batchTx.append). Only the writer's goroutine uses them.
type heads struct {
	lru *simplelru.LRU[string, head]
}

type head struct {
	no  int64 // the stream's number
	rev uint64
	ids []uuid.UUID // of revisions 0 to rev
}

const (
	// keptHeads bounds the streams kept: the outcome of an order follows
	// its placement within a few commits.
	keptHeads = 4096
	// keptIDs bounds a kept stream's length; a longer one is forgotten.
	keptIDs = 16
)

func newHeads() *heads {
	lru, err := simplelru.NewLRU[string, head](keptHeads, nil)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &heads{lru: lru}
}

// allow reports whether an append of events to stream, expecting rev,
// can be written at rev+1 without reading the stream: its head as last
// committed here is rev and none of the events' ids is in it. It returns
// the stream's number. The insert still refuses a revision another writer
// took since.
func (h *heads) allow(stream string, rev uint64, events []eventstore.EventData) (no int64, ok bool) {
	if h == nil {
		return 0, false
	}
	known, ok := h.lru.Peek(stream)
	if !ok || known.rev != rev {
		return 0, false
	}
	for _, e := range events {
		if slices.Contains(known.ids, e.ID) {
			return 0, false
		}
	}
	return known.no, true
}

// forget drops what is kept of stream.
func (h *heads) forget(stream string) { h.lru.Remove(stream) }

// wrote records a committed append of events to stream (number no) that
// ended at revision last. A stream is kept from its first event on, and
// forgotten when an append this writer did not see came between.
func (h *heads) wrote(stream string, no int64, last uint64, events []eventstore.EventData) {
	first := last + 1 - uint64(len(events))
	var ids []uuid.UUID
	if first > 0 {
		known, ok := h.lru.Peek(stream)
		if !ok || known.rev+1 != first {
			h.forget(stream)
			return
		}
		ids = slices.Clip(known.ids) // a kept slice is never appended to in place
	}
	if len(ids)+len(events) > keptIDs {
		h.forget(stream)
		return
	}
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	h.lru.Add(stream, head{no: no, rev: last, ids: ids})
}
