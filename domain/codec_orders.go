package domain

import "github.com/robotlabor/billing/internal/jsonx"

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
