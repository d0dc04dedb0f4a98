package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
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

// mutations are body cut short at every byte, and with each byte replaced
// by each of a few that change its meaning.
func mutations(body []byte) [][]byte {
	var out [][]byte
	for i := range body {
		out = append(out, body[:i])
		for _, c := range []byte(` "\:,{}[]0-.eEnt` + "\x00\x7f\xc3") {
			m := append([]byte(nil), body...)
			m[i] = c
			out = append(out, m)
		}
	}
	return out
}

func TestOrderBodiesDecodeAsEncodingJSONDoes(t *testing.T) {
	for _, body := range orderBodies(t) {
		for _, m := range append(mutations(body), body) {
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
