package domain

import (
	"strconv"
	"time"

	"github.com/robotlabor/billing/internal/jsonx"
)

// Every order is placed and paid once, so order.placed and order.paid are
// most of the log, and folding the log (the projector, rebuild, verify)
// spent most of its decoding in encoding/json's reflection. These two
// decoders read the plain form the service writes: an object of the
// struct's own keys (a repeated one's last value wins, as in
// encoding/json), with unescaped ASCII strings and integer amounts.
// Anything else (an unknown or differently cased key, a null, an escape,
// a number with a fraction, a syntax error) is handed to encoding/json
// whole, so the outcome, value or error, is always exactly encoding/json's
// (codec_orders_test.go holds them to it).

// decodeOrderPlaced is decodeAs[OrderPlaced] without reflection.
func decodeOrderPlaced(data []byte) (Event, error) {
	var e OrderPlaced
	s := jsonx.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		if known, ok := ref(s, key, &e.OrderRef); known {
			return ok
		}
		switch string(key) {
		case "payment_method_id":
			return s.Str((*string)(&e.PaymentMethodID))
		case "subscription_id":
			return s.Str((*string)(&e.SubscriptionID))
		case "renewal":
			return s.Bool(&e.Renewal)
		case "idempotency_key":
			return s.Str(&e.IdempotencyKey)
		case "fingerprint":
			return s.Str(&e.Fingerprint)
		case "placed_at":
			return s.Time(&e.PlacedAt)
		}
		return false
	})
	if !ok {
		return decodeAs[OrderPlaced](data)
	}
	return e, nil
}

// decodeOrderPaid is decodeAs[OrderPaid] without reflection.
func decodeOrderPaid(data []byte) (Event, error) {
	var e OrderPaid
	s := jsonx.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		if known, ok := ref(s, key, &e.OrderRef); known {
			return ok
		}
		switch string(key) {
		case "provider_payment_id":
			return s.Str(&e.ProviderPaymentID)
		case "paid_at":
			return s.Time(&e.PaidAt)
		}
		return false
	})
	if !ok {
		return decodeAs[OrderPaid](data)
	}
	return e, nil
}

// ref reads the value of key when it is one of OrderRef's: known says
// whether it is, ok whether its value was read.
func ref(s *jsonx.Scanner, key []byte, r *OrderRef) (known, ok bool) {
	switch string(key) {
	case "order_id":
		return true, s.Str((*string)(&r.OrderID))
	case "user_id":
		return true, s.Str(&r.UserID)
	case "plan_id":
		return true, s.Str((*string)(&r.PlanID))
	case "amount":
		return true, s.Int64(&r.Amount)
	case "currency":
		return true, s.Str((*string)(&r.Currency))
	}
	return false, false
}

// The two encoders below are json.Marshal of the same events without
// reflection, for the values the service writes: strings of printable
// ASCII that json.Marshal copies as they are (no quote, backslash, <, >
// or &) and UTC times of years 0 to 9999. They report false for anything
// else, which Encode then leaves to json.Marshal, so that the bytes are
// always exactly json.Marshal's (codec_orders_test.go holds them to it).

// appendOrderPlaced appends e as json.Marshal does.
func appendOrderPlaced(b []byte, e OrderPlaced) ([]byte, bool) {
	w := plainWriter{b: b, ok: true}
	w.ref(e.OrderRef)
	w.str(`,"payment_method_id":`, string(e.PaymentMethodID))
	if e.SubscriptionID != "" {
		w.str(`,"subscription_id":`, string(e.SubscriptionID))
	}
	if e.Renewal {
		w.b = append(w.b, `,"renewal":true`...)
	}
	w.str(`,"idempotency_key":`, e.IdempotencyKey)
	w.str(`,"fingerprint":`, e.Fingerprint)
	w.time(`,"placed_at":`, e.PlacedAt)
	return append(w.b, '}'), w.ok
}

// appendOrderPaid appends e as json.Marshal does.
func appendOrderPaid(b []byte, e OrderPaid) ([]byte, bool) {
	w := plainWriter{b: b, ok: true}
	w.ref(e.OrderRef)
	w.str(`,"provider_payment_id":`, e.ProviderPaymentID)
	w.time(`,"paid_at":`, e.PaidAt)
	return append(w.b, '}'), w.ok
}

// plainWriter appends the members of an object; ok turns false at the
// first value it cannot write as json.Marshal would.
type plainWriter struct {
	b  []byte
	ok bool
}

func (w *plainWriter) ref(r OrderRef) {
	w.str(`{"order_id":`, string(r.OrderID))
	w.str(`,"user_id":`, r.UserID)
	w.str(`,"plan_id":`, string(r.PlanID))
	w.b = append(w.b, `,"amount":`...)
	w.b = strconv.AppendInt(w.b, r.Amount, 10)
	w.str(`,"currency":`, string(r.Currency))
}

// str appends key (with its punctuation) and v.
func (w *plainWriter) str(key, v string) {
	for i := 0; i < len(v); i++ {
		if !marshaledAsIs[v[i]] {
			w.ok = false
			return
		}
	}
	w.b = append(w.b, key...)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
}

func (w *plainWriter) time(key string, t time.Time) {
	if t.Location() != time.UTC || t.Year() < 0 || t.Year() > 9999 {
		w.ok = false
		return
	}
	w.b = append(w.b, key...)
	w.b = jsonx.AppendTime(w.b, t)
}

// marshaledAsIs tells the bytes json.Marshal copies into a string as they
// are: printable ASCII but the quote, the backslash and HTML's <, > and &.
var marshaledAsIs = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()
