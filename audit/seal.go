package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// entry is what a seal pins of one event.
type entry struct {
	stream     string
	revision   uint64
	position   eventstore.Position
	recordedAt time.Time
	hash       string
}

// sealDigest is the digest of a seal over events, the range (from, to] in
// log order, after the seal whose digest is prev (docs/events.md):
// SHA-256, in lowercase hex, over the lines
//
//	billing.audit.seal.v1
//	<prev>
//	<from> <to>
//	heads <number of streams>
//	<stream as a JSON string> <revision> <position> <recorded_at> <hash>   (each changed stream's last event, by stream)
//	events <number of events>
//	<position> <recorded_at> <stream as a JSON string> <revision> <hash>   (every event, in log order)
//
// fields separated by one space, each line ended by "\n", recorded_at in
// RFC 3339 with nanoseconds in UTC as exports show it.
func sealDigest(prev string, from, to eventstore.Position, events []entry) (digest string, streams int) {
	last := map[string]int{}
	for i, e := range events {
		last[e.stream] = i
	}
	heads := make([]string, 0, len(last))
	for s := range last {
		heads = append(heads, s)
	}
	slices.Sort(heads)

	h := sha256.New()
	var b []byte
	line := func() {
		b = append(b, '\n')
		h.Write(b)
		b = b[:0]
	}
	b = append(b, "billing.audit.seal.v1\n"...)
	b = append(b, prev...)
	line()
	b = strconv.AppendUint(b, uint64(from), 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(to), 10)
	line()
	b = append(b, "heads "...)
	b = strconv.AppendInt(b, int64(len(heads)), 10)
	line()
	for _, s := range heads {
		e := events[last[s]]
		b = appendString(b, e.stream)
		b = append(b, ' ')
		b = strconv.AppendUint(b, e.revision, 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(e.position), 10)
		b = append(b, ' ')
		b = e.recordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
		b = append(b, e.hash...)
		line()
	}
	b = append(b, "events "...)
	b = strconv.AppendInt(b, int64(len(events)), 10)
	line()
	for _, e := range events {
		b = strconv.AppendUint(b, uint64(e.position), 10)
		b = append(b, ' ')
		b = e.recordedAt.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
		b = appendString(b, e.stream)
		b = append(b, ' ')
		b = strconv.AppendUint(b, e.revision, 10)
		b = append(b, ' ')
		b = append(b, e.hash...)
		line()
	}
	return hex.EncodeToString(h.Sum(nil)), len(heads)
}

// ErrTampered: an event's bytes do not match the hash it carries.
var ErrTampered = errors.New("audit: the log does not match its hashes")

// Sealer appends seals to the audit stream.
type Sealer struct {
	// Store is the chained store (see Chain): a seal is chained like
	// every event.
	Store eventstore.Store
	Now   func() time.Time
}

// sealPage is how many events a seal reads at a time; sealMax bounds how
// many one seal covers (and so the memory of sealing and of verifying):
// a longer range, the first seal of a log recorded before hashing, is
// sealed by several seals in a row.
const sealPage = 4096

var sealMax = 100_000 // a variable for tests

// SealAll seals what was recorded up to now, and returns the seals it
// appended.
//
// It seals up to the log's head when called: a range longer than sealMax
// takes several seals, but events arriving meanwhile wait for the next
// call, so steady traffic gets one seal per call, not a seal per append.
func (s *Sealer) SealAll(ctx context.Context) ([]domain.AuditSealed, error) {
	head, err := s.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	var seals []domain.AuditSealed
	for {
		seal, ok, err := s.Seal(ctx)
		if err != nil || !ok {
			return seals, err
		}
		seals = append(seals, seal)
		if eventstore.Position(seal.ToPosition) >= head {
			return seals, nil
		}
	}
}

// Seal seals the events recorded since the last seal (up to sealMax of
// them), when any but seals were, and reports whether it appended a seal. Another instance sealing
// at the same moment wins or loses the append on the audit stream, whose
// revision both expect: this one then appends nothing, and its events
// are in the winner's seal or the next. An event whose bytes do not
// match its hash is never sealed: Seal returns ErrTampered.
func (s *Sealer) Seal(ctx context.Context) (domain.AuditSealed, bool, error) {
	prev, version, err := LastSeal(ctx, s.Store)
	if err != nil {
		return domain.AuditSealed{}, false, err
	}
	head, err := s.Store.Head(ctx)
	if err != nil {
		return domain.AuditSealed{}, false, err
	}
	from := eventstore.Position(prev.ToPosition)
	events, news, err := s.read(ctx, from, head)
	if err != nil || news == 0 {
		return domain.AuditSealed{}, false, err
	}
	seal := domain.AuditSealed{
		Seal:         prev.Seal + 1,
		FromPosition: uint64(from),
		ToPosition:   uint64(events[len(events)-1].position),
		Events:       uint64(len(events)),
		PrevDigest:   prev.Digest,
		SealedAt:     s.Now().UTC(),
	}
	var streams int
	seal.Digest, streams = sealDigest(prev.Digest, from, eventstore.Position(seal.ToPosition), events)
	seal.Streams = uint64(streams)
	data, err := json.Marshal(seal)
	if err != nil {
		return domain.AuditSealed{}, false, err
	}
	_, err = s.Store.Append(ctx, domain.AuditStream, version, eventstore.EventData{
		ID: uuid.New(), Type: domain.EventAuditSealed, Data: data, Metadata: []byte(`{"correlation_id":"audit-seal"}`),
	})
	if errors.Is(err, eventstore.ErrConflict) {
		return domain.AuditSealed{}, false, nil // another instance sealed first
	}
	if err != nil {
		return domain.AuditSealed{}, false, fmt.Errorf("append seal %d: %w", seal.Seal, err)
	}
	return seal, true, nil
}

// read returns the entries of the events after from up to head, checked
// against their hashes, and how many of them are not seals.
func (s *Sealer) read(ctx context.Context, from, head eventstore.Position) ([]entry, int, error) {
	var (
		h      hasher
		events []entry
		news   int
		known  = map[string]string{} // stream → hash of its last event read
	)
	for pos := from; pos < head && len(events) < sealMax; {
		recs, err := s.Store.ReadAll(ctx, pos, min(sealPage, sealMax-len(events)))
		if err != nil {
			return nil, 0, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			rec := &recs[i]
			if rec.Position > head {
				break
			}
			prev, ok := known[rec.Stream]
			if !ok && rec.Revision > 0 {
				if _, stated, err := splitMetadata(rec.Metadata); err == nil && stated.has {
					prev = stated.prev // its link is checked by audit verify
				} else if prev, err = HashAt(ctx, s.Store, rec.Stream, rec.Revision-1); err != nil {
					return nil, 0, err
				}
			}
			sum, stated, err := h.sum(rec, prev)
			if err == nil && stated.has && (stated.hash != sum || stated.prev != prev) {
				err = errors.New("its bytes or its link do not match its hash")
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%w: %v", ErrTampered, &Problem{Event: *rec, Why: err.Error()})
			}
			known[rec.Stream] = sum
			events = append(events, entry{rec.Stream, rec.Revision, rec.Position, rec.RecordedAt, sum})
			if rec.Type != domain.EventAuditSealed {
				news++
			}
		}
		pos = recs[len(recs)-1].Position
	}
	return events, news, nil
}

// LastSeal returns the audit stream's last seal (zero when there is none)
// and the condition to append the next one under.
func LastSeal(ctx context.Context, store eventstore.Store) (domain.AuditSealed, eventstore.ExpectedRevision, error) {
	recs, err := store.ReadStream(ctx, domain.AuditStream, eventstore.Backwards, eventstore.End, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return domain.AuditSealed{}, eventstore.NoStream, nil
	}
	if err != nil {
		return domain.AuditSealed{}, eventstore.NoStream, err
	}
	var seal domain.AuditSealed
	if err := json.Unmarshal(recs[0].Data, &seal); err != nil {
		return seal, eventstore.NoStream, fmt.Errorf("the last seal: %w", err)
	}
	return seal, eventstore.Exact(recs[0].Revision), nil
}

// Run seals every interval while events arrive, until ctx ends. Failures
// are logged and tried again at the next tick.
func (s *Sealer) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seals, err := s.SealAll(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Error("audit seal failed", "error", err)
		}
		for _, seal := range seals {
			logger.Debug("audit sealed", "seal", seal.Seal, "to_position", seal.ToPosition, "events", seal.Events)
		}
	}
}

// Problem names an event that disagrees with the log's hashes or seals.
type Problem struct {
	Event eventstore.RecordedEvent
	Why   string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("event %s (stream %s, revision %d, position %d): %s", p.Event.ID, p.Event.Stream, p.Event.Revision, p.Event.Position, p.Why)
}
