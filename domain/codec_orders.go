package domain

import "time"

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
	s := bodyScanner{b: data}
	ok := s.object(func(key []byte) bool {
		if known, ok := s.ref(key, &e.OrderRef); known {
			return ok
		}
		switch string(key) {
		case "payment_method_id":
			return s.str((*string)(&e.PaymentMethodID))
		case "subscription_id":
			return s.str((*string)(&e.SubscriptionID))
		case "renewal":
			return s.bool(&e.Renewal)
		case "idempotency_key":
			return s.str(&e.IdempotencyKey)
		case "fingerprint":
			return s.str(&e.Fingerprint)
		case "placed_at":
			return s.time(&e.PlacedAt)
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
	s := bodyScanner{b: data}
	ok := s.object(func(key []byte) bool {
		if known, ok := s.ref(key, &e.OrderRef); known {
			return ok
		}
		switch string(key) {
		case "provider_payment_id":
			return s.str(&e.ProviderPaymentID)
		case "paid_at":
			return s.time(&e.PaidAt)
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
func (s *bodyScanner) ref(key []byte, r *OrderRef) (known, ok bool) {
	switch string(key) {
	case "order_id":
		return true, s.str((*string)(&r.OrderID))
	case "user_id":
		return true, s.str(&r.UserID)
	case "plan_id":
		return true, s.str((*string)(&r.PlanID))
	case "amount":
		return true, s.int64(&r.Amount)
	case "currency":
		return true, s.str((*string)(&r.Currency))
	}
	return false, false
}

// bodyScanner reads the plain form of an event body (see above). Each
// method reports false when the input is anything else; the caller then
// leaves the body to encoding/json.
type bodyScanner struct {
	b []byte
	i int
}

// object reads the whole input as one object, calling field with each
// key, positioned at its value, which field must read.
func (s *bodyScanner) object(field func(key []byte) bool) bool {
	s.space()
	if !s.byte('{') {
		return false
	}
	s.space()
	if !s.byte('}') {
		for {
			key, ok := s.plain()
			if !ok {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
			if !field(key) {
				return false
			}
			s.space()
			if s.byte('}') {
				break
			}
			if !s.byte(',') {
				return false
			}
			s.space()
		}
	}
	s.space()
	return s.i == len(s.b)
}

func (s *bodyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *bodyScanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plain reads a string of printable ASCII without escapes and returns
// its contents.
func (s *bodyScanner) plain() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

func (s *bodyScanner) str(into *string) bool {
	v, ok := s.plain()
	if ok {
		*into = string(v)
	}
	return ok
}

// int64 reads an integer of at most 18 digits (no overflow possible) in
// JSON's form: no leading zeros, no plus sign, no fraction or exponent.
func (s *bodyScanner) int64(into *int64) bool {
	neg := s.byte('-')
	start := s.i
	var v int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		v = v*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	n := s.i - start
	if n == 0 || n > 18 || (n > 1 && s.b[start] == '0') {
		return false // a fraction or an exponent is refused by object, which wants , or }
	}
	if neg {
		v = -v
	}
	*into = v
	return true
}

func (s *bodyScanner) bool(into *bool) bool {
	for _, lit := range [...]struct {
		text string
		v    bool
	}{{"true", true}, {"false", false}} {
		if len(s.b)-s.i >= len(lit.text) && string(s.b[s.i:s.i+len(lit.text)]) == lit.text {
			s.i += len(lit.text)
			*into = lit.v
			return true
		}
	}
	return false
}

// time reads a plain string as encoding/json does for a time.Time: by
// its UnmarshalJSON, given the quoted text.
func (s *bodyScanner) time(into *time.Time) bool {
	start := s.i
	if _, ok := s.plain(); !ok {
		return false
	}
	return into.UnmarshalJSON(s.b[start:s.i]) == nil
}
