package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// Verifier checks a whole log, given event by event in log order, against
// its chains and its seals, without any key: each event's hash, each
// stream's chain and each seal's digest are recomputed from the bytes.
// Its memory grows with the number of streams and with the events of one
// seal's range, not with the log.
type Verifier struct {
	// Pinned maps seal numbers to digests kept outside the service (a
	// copy of the seals from NATS): each must be in the log, as pinned,
	// so a log cut short after a seal is caught too.
	Pinned map[uint64]string

	h       hasher
	streams map[string]head
	window  []entry // the events after the last seal's range
	last    eventstore.Position
	report  Report
}

// Report is what a verification checked.
type Report struct {
	Events   uint64 // events checked
	Streams  int    // streams
	Seals    uint64 // seals checked
	Unhashed uint64 // events recorded before the log was hashed, checked by their seals
	LastSeal domain.AuditSealed
	Unsealed int // events after the last seal's range but seals: their hashes checked, no seal yet
}

// NewVerifier returns a verifier expecting the log's first event.
func NewVerifier() *Verifier {
	return &Verifier{streams: map[string]head{}}
}

// Add checks the next event of the log. It returns a *Problem naming the
// first event whose bytes, order or presence disagree with the hashes
// and seals.
func (v *Verifier) Add(e eventstore.RecordedEvent) error {
	problem := func(format string, args ...any) error {
		return &Problem{Event: e, Why: fmt.Sprintf(format, args...)}
	}
	if v.report.Events > 0 && e.Position <= v.last {
		return problem("out of log order: it follows position %d", v.last)
	}
	v.last = e.Position
	h, seen := v.streams[e.Stream]
	want := uint64(0)
	if seen {
		want = h.revision + 1
	}
	switch {
	case e.Revision > want && !seen:
		return problem("the events of its stream before it are missing")
	case e.Revision > want:
		return problem("its stream's revision %d is missing", want)
	case e.Revision < want:
		return problem("its stream already has revision %d: an event was inserted or moved", e.Revision)
	}
	sum, stated, err := v.h.sum(&e, h.hash)
	switch {
	case err != nil:
		return problem("its bytes cannot be hashed: %v", err)
	case stated.has && stated.prev != h.hash:
		return problem("its prev_hash is not the hash of the event before it in its stream: that one was changed, removed or moved")
	case stated.has && stated.hash != sum:
		return problem("its bytes do not match its hash: it was changed")
	case !stated.has && stated.mentioned:
		return problem("its metadata has a prev_hash but no hash")
	case !stated.has:
		v.report.Unhashed++
	}
	stream := e.Stream
	if !seen {
		// A copy: the event's strings may be views of a whole line of
		// an export, which the map would otherwise keep for good.
		stream = strings.Clone(stream)
	}
	v.streams[stream] = head{e.Revision, sum}
	v.window = append(v.window, entry{e.Stream, e.Revision, e.Position, e.RecordedAt, sum})
	v.report.Events++
	if e.Type == domain.EventAuditSealed && e.Stream == domain.AuditStream {
		return v.checkSeal(e)
	}
	return nil
}

// checkSeal checks the seal e against the events of its range, which all
// came before it.
func (v *Verifier) checkSeal(e eventstore.RecordedEvent) error {
	problem := func(format string, args ...any) error {
		return &Problem{Event: e, Why: fmt.Sprintf(format, args...)}
	}
	var s domain.AuditSealed
	if err := json.Unmarshal(e.Data, &s); err != nil {
		return problem("a seal that does not decode: %v", err)
	}
	prev := v.report.LastSeal
	switch {
	case s.Seal != prev.Seal+1:
		return problem("seal %d follows seal %d", s.Seal, prev.Seal)
	case s.FromPosition != prev.ToPosition || s.PrevDigest != prev.Digest:
		return problem("seal %d does not continue seal %d (it starts after position %d, seal %d ended at %d)", s.Seal, prev.Seal, s.FromPosition, prev.Seal, prev.ToPosition)
	case s.ToPosition >= uint64(e.Position):
		return problem("seal %d covers positions up to %d, not before its own", s.Seal, s.ToPosition)
	}
	n := 0
	for n < len(v.window) && uint64(v.window[n].position) <= s.ToPosition {
		n++
	}
	covered := v.window[:n]
	digest, streams := sealDigest(s.PrevDigest, eventstore.Position(s.FromPosition), eventstore.Position(s.ToPosition), covered)
	if digest != s.Digest || uint64(len(covered)) != s.Events || uint64(streams) != s.Streams {
		return problem("seal %d does not match the events after position %d up to %d (%d here, %d sealed): one of them was changed, moved, re-dated, removed or inserted",
			s.Seal, s.FromPosition, s.ToPosition, len(covered), s.Events)
	}
	if pinned, ok := v.Pinned[s.Seal]; ok && pinned != s.Digest {
		return problem("seal %d differs from its pinned copy", s.Seal)
	}
	v.window = append(v.window[:0], v.window[n:]...)
	v.report.LastSeal = s
	v.report.Seals++
	return nil
}

// Finish ends the verification once the whole log was added.
func (v *Verifier) Finish() (Report, error) {
	for n := range v.Pinned {
		if n > v.report.LastSeal.Seal {
			return v.report, fmt.Errorf("the log ends at position %d without pinned seal %d: events were removed from its end", v.last, n)
		}
	}
	v.report.Streams = len(v.streams)
	for _, e := range v.window {
		if e.stream != domain.AuditStream { // a seal is pinned by the next, and by its copies
			v.report.Unsealed++
		}
	}
	return v.report, nil
}

// ReadExport calls fn with each event of an export (NDJSON, one event per
// line, as `billing events export` writes and NATS carries), in order.
// Lines are decoded a batch ahead, on another goroutine: decoding JSON
// costs about what checking an event does.
func ReadExport(r io.Reader, fn func(eventstore.RecordedEvent) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches, decoded := make(chan []eventstore.RecordedEvent, 2), make(chan error, 1)
	go func() {
		defer close(batches)
		decoded <- decodeExport(ctx, r, batches)
	}()
	for batch := range batches {
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return <-decoded
}

// exportBatch is how many events ReadExport decodes ahead; arenaSize is
// how many bytes of lines it copies into one allocation.
const (
	exportBatch = 256
	arenaSize   = 256 << 10
)

func decodeExport(ctx context.Context, r io.Reader, batches chan<- []eventstore.RecordedEvent) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	batch := make([]eventstore.RecordedEvent, 0, exportBatch)
	var arena []byte // the lines' bytes, copied one after the other: one allocation per arenaSize
	send := func() bool {
		select {
		case batches <- batch:
			batch = make([]eventstore.RecordedEvent, 0, exportBatch)
			return true
		case <-ctx.Done():
			return false
		}
	}
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		if len(arena)+len(line) > cap(arena) {
			arena = make([]byte, 0, max(arenaSize, len(line)))
		}
		start := len(arena)
		arena = append(arena, line...)
		e, err := parseLine(arena[start:len(arena):len(arena)])
		if err != nil {
			send()
			return fmt.Errorf("line %d is not an event: %w", n, err)
		}
		batch = append(batch, e)
		if len(batch) == exportBatch && !send() {
			return nil
		}
	}
	if len(batch) > 0 && !send() {
		return nil
	}
	return sc.Err()
}

// PinnedSeals reads the seals among the events of an export (a copy of
// the audit stream kept outside the service, or of the whole log).
func PinnedSeals(r io.Reader) (map[uint64]string, error) {
	pinned := map[uint64]string{}
	err := ReadExport(r, func(e eventstore.RecordedEvent) error {
		if e.Type != domain.EventAuditSealed {
			return nil
		}
		var s domain.AuditSealed
		if err := json.Unmarshal(e.Data, &s); err != nil {
			return fmt.Errorf("seal at position %d: %w", e.Position, err)
		}
		pinned[s.Seal] = s.Digest
		return nil
	})
	return pinned, err
}
