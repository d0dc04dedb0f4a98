package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Namespaces of the name-based (version 5) UUIDs this package derives. They
// are part of the stored history: every order id, subscription id and
// derived event id already in a log was computed from them, so they must
// NEVER change once shipped.
// They are parsed once: every order derives several ids.
var (
	nsOrder         = uuid.MustParse("92da3234-94dd-4ea7-8086-b668ea7b8903")
	nsSubscription  = uuid.MustParse("6b57e35a-fb47-4b45-b1b5-10f6d3df2ddf")
	nsRefund        = uuid.MustParse("49d612e0-75ed-487d-bc4e-54af09e125f0")
	nsPaymentMethod = uuid.MustParse("707087b9-d0a0-4cfb-ac8b-ca03f6776e4a")
	nsEvent         = uuid.MustParse("b4067c90-916f-400f-84c7-51e894097de2")
	nsRenewalOrder  = uuid.MustParse("66d7d6b3-23f1-4ab2-8fa2-eaff21f5003f")
	nsProviderEvent = uuid.MustParse("3f0b5d8e-6b0e-4d55-9d2a-8c1f7a4e2b61")
)

// Public id prefixes, as the API shows them.
const (
	prefixOrder         = "ord_"
	prefixSubscription  = "sub_"
	prefixPaymentMethod = "pm_"
	prefixSetupSession  = "cs_"
	prefixRefund        = "re_"
	prefixPlan          = "plan_"
)

// CatalogStream is the one stream that holds the plan catalog.
const CatalogStream = "catalog"

// OrderID is an order's public id: "ord_" and the 32 lowercase hex digits of
// its UUID.
type OrderID string

// OrderIDFor is the order that (userID, idempotencyKey) places. Because it is
// a pure function of the pair, the event store's "stream must not exist" check
// on the order's stream is what makes one key produce one order. User ids
// never contain NUL (PlaceOrder refuses them), so the encoding is unambiguous.
func OrderIDFor(userID, idempotencyKey string) OrderID {
	u := uuid.NewSHA1(nsOrder, []byte(userID+"\x00"+idempotencyKey))
	return OrderID(formatID(prefixOrder, u))
}

// RenewalOrderIDFor is the order that pays the period of sub starting at
// periodStart, so a retried or replayed renewal places one order per period.
func RenewalOrderIDFor(sub SubscriptionID, periodStart time.Time) OrderID {
	s := sub.UUID()
	name := append(s[:], periodStart.UTC().Format(time.RFC3339Nano)...)
	u := uuid.NewSHA1(nsRenewalOrder, name)
	return OrderID(formatID(prefixOrder, u))
}

// InvoiceOrderIDFor is the order that explains a provider's invoice of sub
// (a renewal the provider charged by itself): one order per invoice,
// however often its news arrives.
func InvoiceOrderIDFor(sub SubscriptionID, invoiceID string) OrderID {
	s := sub.UUID()
	name := append(s[:], "invoice:"+invoiceID...)
	u := uuid.NewSHA1(nsRenewalOrder, name)
	return OrderID(formatID(prefixOrder, u))
}

// ParseOrderID checks the public form of an order id. A malformed id is
// ErrValidation on "order_id".
func ParseOrderID(s string) (OrderID, error) {
	if _, err := parseID(prefixOrder, "order_id", s); err != nil {
		return "", err
	}
	return OrderID(s), nil
}

// UUID is the order's UUID (uuid.Nil for a malformed id).
func (id OrderID) UUID() uuid.UUID { return idUUID(prefixOrder, string(id)) }

// Stream is the order's stream: "order-<uuid>".
func (id OrderID) Stream() string { return streamName("order-", id.UUID()) }

// PlacedEventID is the id of the first event of the order's stream
// (order.placed), so (user, key) maps to (stream, first event id).
func PlacedEventID(order OrderID) uuid.UUID {
	return EventIDFor(order.UUID(), EventOrderPlaced)
}

// DecidedEventIDs gives the events one command decided their ids, given the
// id of the first: it keeps first, and each later event gets EventIDFor(first,
// its type). With PlacedEventID it names the events of PlaceOrder.Decide
// (order.placed, then subscription.created), so a retried command appends the
// same ids.
func DecidedEventIDs(first uuid.UUID, events []Event) []uuid.UUID {
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		if i == 0 {
			ids[i] = first
			continue
		}
		ids[i] = EventIDFor(first, e.EventType())
	}
	return ids
}

// EventIDFor is the id of the event of type eventType caused by the event (or
// entity) with id cause. The reconciler derives its outcome events' ids with
// it, so a crash and a replay append each outcome once.
func EventIDFor(cause uuid.UUID, eventType string) uuid.UUID {
	name := make([]byte, 0, len(cause)+len(eventType))
	name = append(append(name, cause[:]...), eventType...)
	return uuid.NewSHA1(nsEvent, name)
}

// SubscriptionID is a subscription's public id: "sub_" and 32 hex digits.
type SubscriptionID string

// SubscriptionIDFor is the subscription started by the first order order.
func SubscriptionIDFor(order OrderID) SubscriptionID {
	u := order.UUID()
	return SubscriptionID(formatID(prefixSubscription, uuid.NewSHA1(nsSubscription, u[:])))
}

// ParseSubscriptionID checks the public form of a subscription id. A
// malformed id is ErrValidation on "subscription_id".
func ParseSubscriptionID(s string) (SubscriptionID, error) {
	if _, err := parseID(prefixSubscription, "subscription_id", s); err != nil {
		return "", err
	}
	return SubscriptionID(s), nil
}

// UUID is the subscription's UUID (uuid.Nil for a malformed id).
func (id SubscriptionID) UUID() uuid.UUID { return idUUID(prefixSubscription, string(id)) }

// Stream is the subscription's stream: "subscription-<uuid>".
func (id SubscriptionID) Stream() string { return streamName("subscription-", id.UUID()) }

// PaymentMethodID is a saved card's public id: "pm_" and 32 hex digits.
type PaymentMethodID string

// PaymentMethodIDFor is the card saved by setup session s: a session saves at
// most one card, so a replayed completion lists the card once.
func PaymentMethodIDFor(s SetupSessionID) PaymentMethodID {
	u := s.UUID()
	return PaymentMethodID(formatID(prefixPaymentMethod, uuid.NewSHA1(nsPaymentMethod, u[:])))
}

// ParsePaymentMethodID checks the public form of a card id. A malformed id is
// ErrValidation on "payment_method_id".
func ParsePaymentMethodID(s string) (PaymentMethodID, error) {
	if _, err := parseID(prefixPaymentMethod, "payment_method_id", s); err != nil {
		return "", err
	}
	return PaymentMethodID(s), nil
}

// SetupSessionID is a card setup session's public id: "cs_" and 32 hex
// digits. Its URL is a capability, so the UUID must be random (version 4).
type SetupSessionID string

// NewSetupSessionID formats a random UUID, chosen by the caller, as a session id.
func NewSetupSessionID(random uuid.UUID) SetupSessionID {
	return SetupSessionID(formatID(prefixSetupSession, random))
}

// ParseSetupSessionID checks the public form of a session id. A malformed id
// is ErrValidation on "session_id".
func ParseSetupSessionID(s string) (SetupSessionID, error) {
	if _, err := parseID(prefixSetupSession, "session_id", s); err != nil {
		return "", err
	}
	return SetupSessionID(s), nil
}

// UUID is the session's UUID (uuid.Nil for a malformed id).
func (id SetupSessionID) UUID() uuid.UUID { return idUUID(prefixSetupSession, string(id)) }

// RefundID is a refund's public id: "re_" and 32 hex digits.
type RefundID string

// RefundIDFor is the refund of order: refunds are always full, so an order
// has at most one refund id, whatever the number of attempts.
func RefundIDFor(order OrderID) RefundID {
	u := order.UUID()
	return RefundID(formatID(prefixRefund, uuid.NewSHA1(nsRefund, u[:])))
}

// WalletStream is the stream of userID's wallet: "wallet-<user id>".
func WalletStream(userID string) string { return "wallet-" + userID }

// Fingerprint is the hex SHA-256 of an unambiguous encoding of an order
// request's body (plan, card, amount; a nil amount differs from 0). It is kept
// on order.placed to tell a replay (same fingerprint) from an idempotency key
// reused with a different body.
func Fingerprint(planID string, paymentMethodID string, amount *int64) string {
	h := sha256.New()
	writeField := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	writeField([]byte("billing.place_order.v1"))
	writeField([]byte(planID))
	writeField([]byte(paymentMethodID))
	if amount == nil {
		writeField(nil)
	} else {
		var a [8]byte
		binary.BigEndian.PutUint64(a[:], uint64(*amount))
		writeField(a[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func formatID(prefix string, u uuid.UUID) string {
	return prefix + hex.EncodeToString(u[:])
}

func idUUID(prefix, s string) uuid.UUID {
	u, ok := decodeID(prefix, s)
	if !ok {
		return uuid.Nil
	}
	return u
}

func parseID(prefix, param, s string) (uuid.UUID, error) {
	u, ok := decodeID(prefix, s)
	if !ok {
		return uuid.Nil, Invalid(param, fmt.Sprintf("%s must be %q followed by 32 lowercase hex digits", param, prefix))
	}
	return u, nil
}

func decodeID(prefix, s string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 32 {
		return uuid.Nil, false
	}
	var u uuid.UUID
	for i := range u {
		hi, lo := lowerHex(rest[2*i]), lowerHex(rest[2*i+1])
		if hi > 0xf || lo > 0xf {
			return uuid.Nil, false
		}
		u[i] = hi<<4 | lo
	}
	return u, true
}

// lowerHex is the value of a lowercase hex digit; 0xff for any other byte.
func lowerHex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return 0xff
}

// streamName is prefix and u in its canonical text, as u.String() writes
// it, in one allocation: every order event names its stream, often more
// than once.
func streamName(prefix string, u uuid.UUID) string {
	var buf [64]byte
	b := append(buf[:0], prefix...)
	for i, part := range [...][2]int{{0, 4}, {4, 6}, {6, 8}, {8, 10}, {10, 16}} {
		if i > 0 {
			b = append(b, '-')
		}
		b = hex.AppendEncode(b, u[part[0]:part[1]])
	}
	return string(b)
}
