package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/internal/jsontest"
)

// The two hottest event types decode without reflection (codec_orders.go);
// what Decode returns for any body, value or error, must be exactly what
// encoding/json returns for the same body.

// orderBodies are bodies of order.placed and order.paid: as the service
// writes them, and in every other form JSON allows or a log could hold.
func orderBodies(t testing.TB) [][]byte {
	t.Helper()
	renewal := placed()
	renewal.SubscriptionID, renewal.Renewal = subID(), true
	offset := paid()
	offset.PaidAt = time.Date(2026, 2, 3, 4, 5, 6, 789, time.FixedZone("", 2*3600))
	var bodies [][]byte
	for _, e := range []domain.Event{placed(), renewal, paid(), offset} {
		_, data, err := domain.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		indented, err := json.MarshalIndent(e, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, data, indented)
	}
	for _, s := range []string{
		``, ` `, `null`, ` null `, `{}`, ` { } `, `[]`, `"x"`, `1`, `true`, `{`, `}`, `{,}`, `{"a"}`, `{"a":}`,
		`{"amount":1,}`, `{"amount":1}x`, `{"amount":1}{}`, `{"amount":1} `, "\t{\n\"amount\"\r:\n1\t}\n", "\ufeff{}",
		`{"amount":0}`, `{"amount":-0}`, `{"amount":-1}`, `{"amount":01}`, `{"amount":1.0}`, `{"amount":1.5}`,
		`{"amount":1e2}`, `{"amount":1E2}`, `{"amount":-}`, `{"amount":+1}`, `{"amount":1.}`, `{"amount":"100"}`,
		`{"amount":true}`, `{"amount":null}`, `{"amount":123456789012345678}`, `{"amount":1234567890123456789}`,
		`{"amount":9223372036854775807}`, `{"amount":9223372036854775808}`, `{"amount":-9223372036854775808}`,
		`{"amount":99999999999999999999999}`, `{"amount":1,"amount":2}`, `{"Amount":7}`, `{"AMOUNT":7,"amount":8}`,
		`{"renewal":true}`, `{"renewal":false}`, `{"renewal":"true"}`, `{"renewal":1}`, `{"renewal":null}`,
		`{"renewal":tru}`, `{"renewal":truex}`, `{"renewal":true,"renewal":false}`,
		`{"order_id":"ord_1"}`, `{"order_id":null}`, `{"order_id":1}`, `{"order_id":"a\"b"}`, `{"order_id":"\u0041"}`,
		`{"order_id":"a\nb"}`, "{\"order_id\":\"a\tb\"}", `{"order_id":"é"}`, "{\"order_id\":\"\xff\"}", `{"order_id":"x","order_id":"y"}`,
		`{"order_\u0069d":"x"}`, `{"Order_ID":"x"}`, `{"user_id":"u","plan_id":"p","currency":"usd"}`,
		`{"placed_at":"2026-01-02T03:04:05Z"}`, `{"placed_at":"2026-01-02T03:04:05.123456789+01:00"}`,
		`{"placed_at":"2026-01-02"}`, `{"placed_at":"2026-13-02T03:04:05Z"}`, `{"placed_at":"2026-01-02T03:04:05"}`,
		`{"placed_at":null}`, `{"placed_at":0}`, `{"placed_at":"2026-01-02T03:04:05\u005a"}`,
		`{"paid_at":"2026-01-02T03:04:05Z","paid_at":"2027-01-02T03:04:05Z"}`, `{"paid_at":"0001-01-01T00:00:00Z"}`,
		`{"extra":{"x":[1,2,{"y":null}]},"amount":5}`, `{"extra":1}`, `{"provider_payment_id":"pi_1","fingerprint":"f"}`,
	} {
		bodies = append(bodies, []byte(s))
	}
	return bodies
}

func TestOrderBodiesDecodeAsEncodingJSONDoes(t *testing.T) {
	for _, body := range orderBodies(t) {
		for _, m := range append(jsontest.Mutations(body), body) {
			assertDecodesAsEncodingJSON(t, m)
		}
	}
}

func FuzzOrderBodiesDecodeAsEncodingJSONDoes(f *testing.F) {
	for _, body := range orderBodies(f) {
		f.Add(body)
	}
	f.Fuzz(assertDecodesAsEncodingJSON)
}

// assertDecodesAsEncodingJSON decodes body as order.placed and as
// order.paid, and compares with encoding/json: the same value, or the
// same error.
func assertDecodesAsEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	var (
		wantPlaced domain.OrderPlaced
		wantPaid   domain.OrderPaid
	)
	for _, c := range []struct {
		typ  string
		want any
		err  error
	}{
		{domain.EventOrderPlaced, &wantPlaced, json.Unmarshal(body, &wantPlaced)},
		{domain.EventOrderPaid, &wantPaid, json.Unmarshal(body, &wantPaid)},
	} {
		got, err := domain.Decode(c.typ, body)
		switch {
		case c.err != nil && err == nil:
			t.Errorf("Decode(%s, %q) = %#v; encoding/json: %v", c.typ, body, got, c.err)
		case c.err != nil && !strings.HasSuffix(err.Error(), ": "+c.err.Error()):
			t.Errorf("Decode(%s, %q): %v; encoding/json: %v", c.typ, body, err, c.err)
		case c.err == nil && err != nil:
			t.Errorf("Decode(%s, %q): %v; encoding/json decodes it", c.typ, body, err)
		case c.err == nil && !reflect.DeepEqual(got, reflect.ValueOf(c.want).Elem().Interface()):
			t.Errorf("Decode(%s, %q)\n got %#v\nwant %#v", c.typ, body, got, c.want)
		}
	}
}

// BenchmarkDecodeOrderEvents: one order.placed and one order.paid, as the
// service writes them.
//
//	go test ./domain -run '^$' -bench DecodeOrderEvents -benchmem
func BenchmarkDecodeOrderEvents(b *testing.B) {
	var bodies [2][]byte
	for i, e := range []domain.Event{placed(), paid()} {
		_, data, err := domain.Encode(e)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = data
	}
	for b.Loop() {
		if _, err := domain.Decode(domain.EventOrderPlaced, bodies[0]); err != nil {
			b.Fatal(err)
		}
		if _, err := domain.Decode(domain.EventOrderPaid, bodies[1]); err != nil {
			b.Fatal(err)
		}
	}
}

// Encode writes the two hottest event types without reflection; the bytes
// must be exactly json.Marshal's, whatever the values.
func TestOrderEventsEncodeAsJSONMarshalDoes(t *testing.T) {
	renewal := placed()
	renewal.SubscriptionID, renewal.Renewal = subID(), true
	offset := paid()
	offset.PaidAt = time.Date(2026, 2, 3, 4, 5, 6, 789, time.FixedZone("", 2*3600))
	local := paid()
	local.PaidAt = local.PaidAt.Local()
	events := []domain.Event{placed(), renewal, paid(), offset, local}
	for _, s := range []string{"", "a<b", "a>b", "a&b", `a"b`, `a\b`, "a\nb", "a\x7fb", "é", "\xff", "\u2028", "ord_1 2"} {
		p, q := placed(), paid()
		p.IdempotencyKey, p.UserID, q.ProviderPaymentID, q.OrderID = s, s, s, domain.OrderID(s)
		events = append(events, p, q)
	}
	for _, at := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		p, q := placed(), paid()
		p.PlacedAt, q.PaidAt = at, at
		q.Amount = -1 << 63
		events = append(events, p, q)
	}
	for _, e := range events {
		assertEncodesAsJSONMarshal(t, e)
	}
}

func FuzzOrderEventsEncodeAsJSONMarshalDoes(f *testing.F) {
	f.Add("ord_1", "user-1", "key-1", "pi_1", int64(4900), int64(1767225600123456789), false)
	f.Add("a<b", "é", "\xff", "", int64(-1), int64(0), true)
	f.Fuzz(func(t *testing.T, id, user, key, payment string, amount, nanos int64, renewal bool) {
		p, q := placed(), paid()
		p.OrderID, p.UserID, p.IdempotencyKey, p.Amount, p.Renewal = domain.OrderID(id), user, key, amount, renewal
		p.PlacedAt = time.Unix(0, nanos).UTC()
		q.OrderID, q.UserID, q.ProviderPaymentID, q.Amount = domain.OrderID(id), user, payment, amount
		q.PaidAt = time.Unix(0, nanos).UTC()
		assertEncodesAsJSONMarshal(t, p)
		assertEncodesAsJSONMarshal(t, q)
	})
}

func assertEncodesAsJSONMarshal(t *testing.T, e domain.Event) {
	t.Helper()
	want, wantErr := json.Marshal(e)
	_, got, err := domain.Encode(e)
	switch {
	case wantErr != nil:
		if err == nil {
			t.Errorf("Encode(%#v) = %s; json.Marshal: %v", e, got, wantErr)
		}
	case err != nil || string(got) != string(want):
		t.Errorf("Encode(%#v)\n got %s, %v\nwant %s", e, got, err, want)
	}
}

// BenchmarkEncodeOrderEvents: one order.placed and one order.paid.
//
//	go test ./domain -run '^$' -bench EncodeOrderEvents -benchmem
func BenchmarkEncodeOrderEvents(b *testing.B) {
	events := []domain.Event{placed(), paid()}
	for b.Loop() {
		for _, e := range events {
			if _, _, err := domain.Encode(e); err != nil {
				b.Fatal(err)
			}
		}
	}
}
