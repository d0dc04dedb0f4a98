package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/esdb"
	"github.com/robotlabor/billing/eventstore/esdb/esdbtest"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/relay"
)

func sqliteStore(t testing.TB) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func esdbStore(t testing.TB) eventstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := esdb.Open(ctx, esdb.Config{URL: esdbtest.New(t).URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var backends = []struct {
	name string
	open func(testing.TB) eventstore.Store
}{{"embedded", sqliteStore}, {"eventstoredb", esdbStore}}

// order appends an order's events the way the service does: placed
// under NoStream, then each outcome under the revision it follows.
func order(t *testing.T, s eventstore.Store, user string, amount int, outcomes ...string) string {
	t.Helper()
	ctx := context.Background()
	stream := "order-" + uuid.NewString()
	meta := fmt.Sprintf(`{"user_id":%q,"correlation_id":"req-%s","idempotency_key":"k <%d> & more"}`, user, uuid.NewString()[:8], amount)
	data := fmt.Sprintf(`{"order_id":"ord_x","user_id":%q,"amount":%d,"currency":"usd","note":"caf\u00e9 \"robot\""}`, user, amount)
	if _, err := s.Append(ctx, stream, eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "order.placed", Data: []byte(data), Metadata: []byte(meta)}); err != nil {
		t.Fatal(err)
	}
	for i, typ := range outcomes {
		if _, err := s.Append(ctx, stream, eventstore.Exact(uint64(i)), eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(`{"order_id":"ord_x"}`), Metadata: []byte(`{"causation_id":"c"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	return stream
}

func seal(t *testing.T, s eventstore.Store) domain.AuditSealed {
	t.Helper()
	sealed, ok, err := (&Sealer{Store: s, Now: time.Now}).Seal(context.Background())
	if err != nil || !ok {
		t.Fatalf("seal: %v, %v", ok, err)
	}
	return sealed
}

// export is the log as `billing events export` writes it.
func export(t *testing.T, s eventstore.Store) []string {
	t.Helper()
	var lines []string
	for pos := eventstore.Start; ; {
		recs, err := s.ReadAll(context.Background(), pos, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return lines
		}
		for _, r := range recs {
			b, err := relay.Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(b))
		}
		pos = recs[len(recs)-1].Position
	}
}

func verifyLines(lines []string, pinned map[uint64]string) (Report, error) {
	v := NewVerifier()
	v.Pinned = pinned
	err := ReadExport(strings.NewReader(strings.Join(lines, "\n")+"\n"), v.Add)
	if err != nil {
		return Report{}, err
	}
	return v.Finish()
}

func TestAChainedLogVerifies(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := Chain(b.open(t))
			paid := order(t, s, "u1", 4900, "order.paid", "order.refund_requested", "order.refunded")
			order(t, s, "u2", 100, "order.payment_failed")
			first := seal(t, s)
			if _, err := s.Append(ctx, "wallet-u1", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "wallet.card_attached", Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			order(t, s, "u1", 1)
			second := seal(t, s)
			order(t, s, "u3", 7) // after the last seal

			recs, err := s.ReadStream(ctx, paid, eventstore.Forwards, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			prev := ""
			for _, r := range recs {
				_, l, err := splitMetadata(r.Metadata)
				if err != nil || !l.has || l.prev != prev {
					t.Fatalf("revision %d of %s states %+v (%v); want prev_hash %q", r.Revision, paid, l, err, prev)
				}
				prev = l.hash
			}
			if first.Seal != 1 || second.Seal != 2 || second.PrevDigest != first.Digest || second.FromPosition != first.ToPosition {
				t.Fatalf("seals do not chain: %+v then %+v", first, second)
			}

			live := NewVerifier()
			if err := VerifyStore(ctx, s, live, nil); err != nil {
				t.Fatalf("verify the live log: %v", err)
			}
			rep, err := live.Finish()
			if err != nil {
				t.Fatal(err)
			}
			fromFile, err := verifyLines(export(t, s), nil)
			if err != nil {
				t.Fatalf("verify the export: %v", err)
			}
			want := Report{Events: 11, Streams: 6, Seals: 2, LastSeal: second, Unsealed: 1} // the order after the last seal
			for _, got := range []Report{rep, fromFile} {
				got.LastSeal.SealedAt = second.SealedAt // JSON drops the monotonic reading
				if got != want {
					t.Errorf("report %+v, want %+v", got, want)
				}
			}
		})
	}
}

func TestASealNeedsNewEvents(t *testing.T) {
	s := Chain(sqliteStore(t))
	sealer := &Sealer{Store: s, Now: time.Now}
	if _, ok, err := sealer.Seal(context.Background()); ok || err != nil {
		t.Fatalf("an empty log sealed: %v, %v", ok, err)
	}
	order(t, s, "u1", 1)
	seal(t, s)
	if _, ok, err := sealer.Seal(context.Background()); ok || err != nil {
		t.Fatalf("a log with no event since its seal sealed again: %v, %v", ok, err)
	}
}

func TestAnAppendCannotStateItsOwnHash(t *testing.T) {
	s := Chain(sqliteStore(t))
	for _, meta := range []string{`{"hash":""}`, `{"prev_hash":""}`, `[1]`, `{"a":1,}`} {
		_, err := s.Append(context.Background(), "x", eventstore.NoStream, eventstore.EventData{ID: uuid.New(), Type: "t", Data: []byte(`{}`), Metadata: []byte(meta)})
		if !errors.Is(err, eventstore.ErrInvalidAppend) {
			t.Errorf("metadata %s: %v, want ErrInvalidAppend", meta, err)
		}
	}
}

// tamperedLog is a log of a few users' orders with two seals, and one
// event after them, as an export.
func tamperedLog(t *testing.T) ([]string, map[uint64]string) {
	s := Chain(sqliteStore(t))
	order(t, s, "u1", 4900, "order.paid", "order.refund_requested", "order.refunded")
	order(t, s, "u2", 100)
	order(t, s, "u3", 250, "order.payment_failed")
	seal(t, s)
	order(t, s, "u1", 300, "order.paid")
	order(t, s, "u4", 5)
	seal(t, s)
	order(t, s, "u5", 9)
	lines := export(t, s)
	pinned, err := PinnedSeals(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil || len(pinned) != 2 {
		t.Fatalf("pinned seals %v, %v", pinned, err)
	}
	return lines, pinned
}

func TestEveryTamperingIsCaught(t *testing.T) {
	lines, pinned := tamperedLog(t)
	if _, err := verifyLines(lines, pinned); err != nil {
		t.Fatalf("the untouched export: %v", err)
	}
	find := func(typ, text string) int {
		for i, l := range lines {
			if strings.Contains(l, `"type":"`+typ+`"`) && strings.Contains(l, text) {
				return i
			}
		}
		t.Fatalf("no %s line with %s", typ, text)
		return 0
	}
	idOf := func(i int) string { return lines[i][len(`{"id":"`) : len(`{"id":"`)+36] }
	placedU1 := find("order.placed", `"amount":4900`)
	paidU1 := placedU1 + 1
	placedU2 := find("order.placed", `"amount":100,`)
	firstSeal := find("audit.sealed", `"seal":1,`)

	for _, c := range []struct {
		name   string
		edit   func([]string) []string
		naming int    // the line of the event the error must name
		why    string // and a word of why
	}{
		{"a byte of data", func(l []string) []string {
			l[placedU1] = strings.Replace(l[placedU1], `"amount":4900`, `"amount":4901`, 1)
			return l
		}, placedU1, "do not match its hash"},
		{"a byte of metadata", func(l []string) []string {
			l[placedU2] = strings.Replace(l[placedU2], `"user_id":"u2"`, `"user_id":"u7"`, 1)
			return l
		}, placedU2, "do not match its hash"},
		{"a changed event with its hash recomputed", func(l []string) []string {
			l[placedU1] = rehash(t, strings.Replace(l[placedU1], `"amount":4900`, `"amount":49`, 1))
			return l
		}, paidU1, "prev_hash"},
		{"a stream's last event changed and rehashed", func(l []string) []string {
			l[placedU2] = rehash(t, strings.Replace(l[placedU2], `"amount":100,`, `"amount":1,`, 1))
			return l
		}, firstSeal, "seal 1 does not match"},
		{"a removed event", func(l []string) []string {
			return append(l[:placedU1:placedU1], l[placedU1+1:]...)
		}, paidU1, "before it are missing"},
		{"a removed stream", func(l []string) []string {
			return append(l[:placedU2:placedU2], l[placedU2+1:]...)
		}, firstSeal - 1, "seal 1 does not match"},
		{"two lines swapped", func(l []string) []string {
			l[placedU1], l[placedU2] = l[placedU2], l[placedU1]
			return l
		}, paidU1, "out of log order"},
		{"two events swapped with their positions kept", func(l []string) []string {
			a, b := l[placedU2], l[placedU2+1]
			l[placedU2] = withPosition(t, b, positionOf(t, a))
			l[placedU2+1] = withPosition(t, a, positionOf(t, b))
			return l
		}, firstSeal, "seal 1 does not match"},
		{"an inserted event, the later ones renumbered", func(l []string) []string {
			forged := strings.Replace(l[placedU2], idOf(placedU2), uuid.NewString(), 1)
			forged = strings.Replace(forged, `"stream":"order-`, `"stream":"order-f`, 1)
			forged = withPosition(t, rehash(t, forged), positionOf(t, l[placedU2])+1)
			for i := placedU2 + 1; i < len(l); i++ {
				l[i] = withPosition(t, l[i], positionOf(t, l[i])+1)
			}
			return append(l[:placedU2+1:placedU2+1], append([]string{forged}, l[placedU2+1:]...)...)
		}, firstSeal + 1, "seal 1 does not match"},
		{"a re-dated event", func(l []string) []string {
			l[placedU2] = strings.Replace(l[placedU2], `"recorded_at":"20`, `"recorded_at":"19`, 1)
			return l
		}, firstSeal, "seal 1 does not match"},
		{"a tail cut after a seal", func(l []string) []string {
			return l[:firstSeal+2]
		}, -1, "without pinned seal 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			edited := c.edit(append([]string(nil), lines...))
			_, err := verifyLines(edited, pinned)
			if err == nil {
				t.Fatal("verify passed")
			}
			if !strings.Contains(err.Error(), c.why) {
				t.Errorf("error %q does not say %q", err, c.why)
			}
			if c.naming >= 0 {
				var p *Problem
				if !errors.As(err, &p) || p.Event.ID.String() != idOf(c.naming) && !strings.Contains(edited[c.naming], p.Event.ID.String()) {
					t.Errorf("error %q does not name the event of line %d: %s", err, c.naming, edited[c.naming])
				}
			}
		})
	}
}

// rehash recomputes the hash an export line's metadata states, as a
// forger without keys can.
func rehash(t *testing.T, line string) string {
	t.Helper()
	var e eventstore.RecordedEvent
	if err := ReadExport(strings.NewReader(line), func(r eventstore.RecordedEvent) error { e = r; return nil }); err != nil {
		t.Fatal(err)
	}
	rest, l, err := splitMetadata(e.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	var h hasher
	sum, _, err := h.sum(&e, l.prev)
	if err != nil {
		t.Fatal(err)
	}
	e.Metadata = linkedMetadata(rest, l.prev, sum)
	b, err := relay.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func positionOf(t *testing.T, line string) uint64 {
	var pos uint64
	if _, err := fmt.Sscanf(line[strings.Index(line, `"position":`):], `"position":%d`, &pos); err != nil {
		t.Fatal(err)
	}
	return pos
}

func withPosition(t *testing.T, line string, pos uint64) string {
	return strings.Replace(line, fmt.Sprintf(`"position":%d,`, positionOf(t, line)), fmt.Sprintf(`"position":%d,`, pos), 1)
}

func TestEventsFromBeforeHashingAreSealedByTheirBytes(t *testing.T) {
	ctx := context.Background()
	raw := sqliteStore(t)
	old := order(t, raw, "u1", 4900, "order.paid")
	order(t, raw, "u2", 100)
	s := Chain(raw)
	if _, err := s.Append(ctx, old, eventstore.Exact(1), eventstore.EventData{ID: uuid.New(), Type: "order.refund_requested", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	want, err := unhashedChain(ctx, raw, old, 1)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := raw.ReadStream(ctx, old, eventstore.Forwards, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, l, _ := splitMetadata(recs[0].Metadata); l.prev != want || want == "" {
		t.Fatalf("the first hashed event links to %q, want the unhashed chain's %q", l.prev, want)
	}
	seal(t, s)
	lines := export(t, s)
	rep, err := verifyLines(lines, nil)
	if err != nil || rep.Unhashed != 3 || rep.Seals != 1 || rep.Unsealed != 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// An unhashed event is pinned by its successor and by the seal.
	for i := range 2 {
		edited := append([]string(nil), lines...)
		edited[i] = strings.Replace(edited[i], `"ord_x"`, `"ord_y"`, 1)
		if _, err := verifyLines(edited, nil); err == nil {
			t.Errorf("a change to unhashed line %d went unnoticed", i)
		}
	}
}

func TestChainsDoNotForkUnderRacingWriters(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			store := b.open(t)
			instances := []*Chained{Chain(store), Chain(store)} // two processes, one store
			stream := "wallet-racer"
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := instances[w%2]
					for range 10 {
						for {
							exp := eventstore.NoStream
							if recs, err := s.ReadStream(ctx, stream, eventstore.Backwards, eventstore.End, 1); err == nil {
								exp = eventstore.Exact(recs[0].Revision)
							}
							_, err := s.Append(ctx, stream, exp, eventstore.EventData{ID: uuid.New(), Type: "wallet.card_attached", Data: []byte(`{}`)})
							if err == nil {
								break
							}
							if !errors.Is(err, eventstore.ErrConflict) {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			sealers := &sync.WaitGroup{}
			for range 2 {
				sealers.Add(1)
				go func() {
					defer sealers.Done()
					for range 5 {
						if _, _, err := (&Sealer{Store: instances[1], Now: time.Now}).Seal(ctx); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			sealers.Wait()
			v := NewVerifier()
			if err := VerifyStore(ctx, store, v, nil); err != nil {
				t.Fatal(err)
			}
			rep, err := v.Finish()
			if err != nil || rep.Events-rep.Seals != 40 {
				t.Fatalf("%+v, %v", rep, err)
			}
		})
	}
}

func TestAReformattedExportStillVerifies(t *testing.T) {
	lines, pinned := tamperedLog(t)
	// JSON tools may re-indent or re-order a line's members: the hash is
	// over the canonical form, not the bytes as written.
	line := lines[0]
	var buf bytes.Buffer
	buf.WriteString(strings.Replace(strings.Replace(line, `":`, `": `, -1), `"amount"`, `"amount" `, 1))
	lines[0] = buf.String()
	if _, err := verifyLines(lines, pinned); err != nil {
		t.Fatal(err)
	}
}

// An append repeated with other metadata (a command retried, a cause
// handled twice) writes nothing; the next event links to what is stored.
func TestARepeatedAppendKeepsTheChain(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := Chain(b.open(t))
			id := uuid.New()
			for _, meta := range []string{`{"correlation_id":"first"}`, `{"correlation_id":"retry"}`} {
				if _, err := s.Append(ctx, "order-x", eventstore.NoStream, eventstore.EventData{ID: id, Type: "order.placed", Data: []byte(`{}`), Metadata: []byte(meta)}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Append(ctx, "order-x", eventstore.Exact(0), eventstore.EventData{ID: uuid.New(), Type: "order.paid", Data: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			v := NewVerifier()
			if err := VerifyStore(ctx, s, v, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A chained append keeps the store's rules for the conditions it takes,
// and refuses the ones it cannot keep them for, writing nothing.
func TestChainedAppendsKeepTheStoresRules(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := Chain(b.open(t))
			ev := func() eventstore.EventData {
				return eventstore.EventData{ID: uuid.New(), Type: "order.paid", Data: []byte(`{}`)}
			}
			stream := "order-" + uuid.NewString()
			for _, expected := range []eventstore.ExpectedRevision{eventstore.Any, eventstore.StreamExists} {
				if _, err := s.Append(ctx, stream, expected, ev()); !errors.Is(err, eventstore.ErrInvalidAppend) {
					t.Errorf("%s: %v, want ErrInvalidAppend", expected, err)
				}
			}
			// A stale expectation is a conflict, whether the stream is
			// missing or behind it, with the store's details.
			var ce *eventstore.ConflictError
			if _, err := s.Append(ctx, stream, eventstore.Exact(4), ev()); !errors.As(err, &ce) || ce.Exists || ce.Stream != stream {
				t.Errorf("Exact(4) on a missing stream: %v (%+v), want a conflict with no stream", err, ce)
			}
			if _, err := s.Append(ctx, stream, eventstore.NoStream, ev()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, stream, eventstore.Exact(4), ev()); !errors.As(err, &ce) || !ce.Exists || ce.Actual != 0 {
				t.Errorf("Exact(4) on a stream at 0: %v (%+v), want a conflict at revision 0", err, ce)
			}
			// A retry after later appends is recognised, as by the store.
			paid := ev()
			want, err := s.Append(ctx, stream, eventstore.Exact(0), paid)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, stream, eventstore.Exact(1), ev()); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Append(ctx, stream, eventstore.Exact(0), paid); err != nil || got.Written || got.Revision != want.Revision || got.Position != want.Position {
				t.Errorf("Exact(0) retry = %+v, %v; want %+v, not written", got, err, want)
			}
			recs, err := s.ReadStream(ctx, stream, eventstore.Forwards, 0, 10)
			if err != nil || len(recs) != 3 {
				t.Fatalf("%d events, %v; want 3", len(recs), err)
			}
			if err := VerifyStore(ctx, s, NewVerifier(), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A long unsealed range (a log from before hashing, a long outage of the
// sealer) is sealed by several seals, each over at most sealMax events.
func TestALongRangeIsSealedInParts(t *testing.T) {
	defer func(n int) { sealMax = n }(sealMax)
	sealMax = 3
	s := Chain(sqliteStore(t))
	for i := range 4 {
		order(t, s, "u1", i+1, "order.paid")
	}
	seals, err := (&Sealer{Store: s, Now: time.Now}).SealAll(context.Background())
	if err != nil || len(seals) != 3 {
		t.Fatalf("%d seals, %v; want 3 for 8 events", len(seals), err)
	}
	for _, seal := range seals {
		if seal.Events > 3 {
			t.Errorf("seal %d covers %d events", seal.Seal, seal.Events)
		}
	}
	rep, err := verifyLines(export(t, s), nil)
	if err != nil || rep.Seals != 3 || rep.Unsealed != 0 {
		t.Fatalf("%+v, %v", rep, err)
	}
}

func TestExportLines(t *testing.T) {
	const good = `{"id":"7ea256bd-f461-54e8-89d1-6e5caa842044","type":"order.paid","stream":"order-1","revision":1,"position":10,"recorded_at":"2026-12-05T12:08:53.932084715Z","data":{"a":[1,{"b":"\u00e9"}]},"metadata":{}}`
	var got eventstore.RecordedEvent
	reordered := `{ "metadata" : {}, "data":{"a":[1,{"b":"\u00e9"}]}, "position":10, "revision":1, "stream":"order-1", "type":"order.paid",` +
		` "recorded_at":"2026-12-05T12:08:53.932084715Z", "id":"7ea256bd-f461-54e8-89d1-6e5caa842044", "extra": [true, null] }`
	for _, line := range []string{good, reordered} {
		if err := ReadExport(strings.NewReader(line+"\n"), func(e eventstore.RecordedEvent) error { got = e; return nil }); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got.ID.String() != "7ea256bd-f461-54e8-89d1-6e5caa842044" || got.Type != "order.paid" || got.Stream != "order-1" || got.Revision != 1 ||
			got.Position != 10 || got.RecordedAt.Nanosecond() != 932084715 || string(got.Data) != `{"a":[1,{"b":"\u00e9"}]}` || string(got.Metadata) != "{}" {
			t.Errorf("%s read as %+v", line, got)
		}
	}
	for _, bad := range []string{
		`{"id":"x"}`, `[1]`, strings.Replace(good, `"position":10`, `"position":0`, 1), strings.Replace(good, `,"data":{"a":[1,{"b":"\u00e9"}]}`, ``, 1),
		strings.Replace(good, `"revision":1`, `"revision":-1`, 1), strings.Replace(good, `2026-12-05T`, `2026-12-05 `, 1), good[:len(good)-1], good + "x",
		strings.Replace(good, `"data":{"a"`, `"data":{"a":`+strings.Repeat("[", 4<<20)+`1`+strings.Repeat("]", 4<<20)+`,"b"`, 1), // nested too deep: refused, not a stack overflow
	} {
		err := ReadExport(strings.NewReader(good+"\n"+bad+"\n"), func(eventstore.RecordedEvent) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "line 2 is not an event") {
			t.Errorf("%.200s: %v, want line 2 refused", bad, err)
		}
	}
}

// A provider's notice is recorded whatever JSON it holds (fractions,
// exponents, bad UTF-8, lone surrogates), and verifies.
func TestProviderObjectsAreChainedWhateverTheirJSON(t *testing.T) {
	s := Chain(sqliteStore(t))
	data := "{\"object\":{\"coupon\":{\"percent_off\":25.50},\"rate\":1.2E-3,\"name\":\"caf\xe9 \\ud83e\"}}"
	if _, err := s.Append(context.Background(), "provider-stripe-evt_1", eventstore.NoStream,
		eventstore.EventData{ID: uuid.New(), Type: "provider.event_received", Data: []byte(data), Metadata: []byte(`{}`)}); err != nil {
		t.Fatalf("append: %v", err)
	}
	seal(t, s)
	if _, err := verifyLines(export(t, s), nil); err != nil {
		t.Fatal(err)
	}
}

// A notice with a key twice is recorded and chained, whether it came before
// the log was hashed or after; the log still seals and verifies, and the
// second member is covered by the hash like any other byte.
func TestAKeyTwiceIsChainedAndSealed(t *testing.T) {
	ctx := context.Background()
	raw := sqliteStore(t)
	twice := func(stream string, append func(context.Context, string, eventstore.ExpectedRevision, ...eventstore.EventData) (eventstore.AppendResult, error)) {
		t.Helper()
		data := "{\"id\":\"evt_1\",\"amount\":100,\"amount\":200,\"k\xff\":1,\"k\xfe\":2}"
		if _, err := append(ctx, stream, eventstore.NoStream,
			eventstore.EventData{ID: uuid.New(), Type: "provider.event_received", Data: []byte(data), Metadata: []byte(`{"by":"a","by":"b"}`)}); err != nil {
			t.Fatalf("append to %s: %v", stream, err)
		}
	}
	twice("provider-stripe-evt_old", raw.Append) // before hashing
	s := Chain(raw)
	twice("provider-stripe-evt_new", s.Append)
	seal(t, s)
	lines := export(t, s)
	if rep, err := verifyLines(lines, nil); err != nil || rep.Seals != 1 || rep.Unsealed != 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	for i, line := range lines[:2] {
		edited := append([]string(nil), lines...)
		edited[i] = strings.Replace(line, `"amount":200`, `"amount":300`, 1)
		if edited[i] == line {
			t.Fatalf("line %d has no second amount: %s", i, line)
		}
		if _, err := verifyLines(edited, nil); err == nil {
			t.Errorf("a change to the second member of line %d went unnoticed", i)
		}
	}
}
