package domain_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/robotlabor/billing/domain"
)

func TestOrderIDIsDeterministic(t *testing.T) {
	base := domain.OrderIDFor(alice, "key-1")
	tests := []struct {
		name     string
		got      domain.OrderID
		wantSame bool
	}{
		{"same user, same key", domain.OrderIDFor(alice, "key-1"), true},
		{"another user, same key", domain.OrderIDFor(bob, "key-1"), false},
		{"same user, another key", domain.OrderIDFor(alice, "key-2"), false},
		{"the separator cannot be forged", domain.OrderIDFor(alice+"\x00key", "-1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.got == base) != tt.wantSame {
				t.Errorf("OrderIDFor = %s, base %s, want same: %v", tt.got, base, tt.wantSame)
			}
		})
	}
}

func TestIDForms(t *testing.T) {
	order := domain.OrderIDFor(alice, "key-1")
	sub := domain.SubscriptionIDFor(order)
	tests := []struct {
		name string
		got  string
		want string // a regular expression
	}{
		{"order id", string(order), `^ord_[0-9a-f]{32}$`},
		{"order stream", order.Stream(), `^order-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{"subscription id", string(sub), `^sub_[0-9a-f]{32}$`},
		{"subscription stream", sub.Stream(), `^subscription-[0-9a-f-]{36}$`},
		{"refund id", string(domain.RefundIDFor(order)), `^re_[0-9a-f]{32}$`},
		{"payment method id", string(card()), `^pm_[0-9a-f]{32}$`},
		{"setup session id", string(session()), `^cs_0b8a4f6e3c2d4e1f9a7b5c6d7e8f9a0b$`},
		{"renewal order id", string(domain.RenewalOrderIDFor(sub, feb15)), `^ord_[0-9a-f]{32}$`},
		{"wallet stream", domain.WalletStream(alice), `^wallet-user_alice$`},
		{"catalog stream", domain.CatalogStream, `^catalog$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !regexp.MustCompile(tt.want).MatchString(tt.got) {
				t.Errorf("%s does not match %s", tt.got, tt.want)
			}
		})
	}
}

func TestDerivedIDs(t *testing.T) {
	order := domain.OrderIDFor(alice, "key-1")
	other := domain.OrderIDFor(alice, "key-2")
	sub := domain.SubscriptionIDFor(order)
	cause := uuid.MustParse("5a0f1c2e-6b7d-4e8f-9a1b-2c3d4e5f6a7b")
	tests := []struct {
		name      string
		a, b      any
		wantEqual bool
	}{
		{"subscription of the same order", domain.SubscriptionIDFor(order), sub, true},
		{"subscription of another order", domain.SubscriptionIDFor(other), sub, false},
		{"refund of the same order", domain.RefundIDFor(order), domain.RefundIDFor(order), true},
		{"refund of another order", domain.RefundIDFor(other), domain.RefundIDFor(order), false},
		{"card of the same session", domain.PaymentMethodIDFor(session()), card(), true},
		{"first event of the same order", domain.PlacedEventID(order), domain.PlacedEventID(domain.OrderIDFor(alice, "key-1")), true},
		{"first event of another order", domain.PlacedEventID(other), domain.PlacedEventID(order), false},
		{"outcome of the same cause", domain.EventIDFor(cause, domain.EventOrderPaid), domain.EventIDFor(cause, domain.EventOrderPaid), true},
		{"another outcome of the same cause", domain.EventIDFor(cause, domain.EventOrderPaymentFailed), domain.EventIDFor(cause, domain.EventOrderPaid), false},
		{"the same outcome of another cause", domain.EventIDFor(uuid.Nil, domain.EventOrderPaid), domain.EventIDFor(cause, domain.EventOrderPaid), false},
		{"renewal of the same period", domain.RenewalOrderIDFor(sub, feb15), domain.RenewalOrderIDFor(sub, feb15.In(time.FixedZone("x", 3600))), true},
		{"renewal of another period", domain.RenewalOrderIDFor(sub, mar15), domain.RenewalOrderIDFor(sub, feb15), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.a == tt.b) != tt.wantEqual {
				t.Errorf("%v vs %v: want equal %v", tt.a, tt.b, tt.wantEqual)
			}
		})
	}
}

func TestIDsArePinned(t *testing.T) {
	// Stored history depends on these values: if this test fails, a namespace
	// or an encoding changed, and every existing log would stop matching.
	order := domain.OrderIDFor("user_1", "key_1")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"order", string(order), "ord_13c87e3a3b2253b8a32f591db3cca699"},
		{"placed event", domain.PlacedEventID(order).String(), "176e8d10-8cdb-5eb0-98ce-f2e74dae2668"},
		{"subscription", string(domain.SubscriptionIDFor(order)), "sub_f928bcabd1d5537fa85fe78c65f28e3d"},
		{"refund", string(domain.RefundIDFor(order)), "re_e139ba86817252cda2ecfaa1f74130ba"},
		{"fingerprint", domain.Fingerprint("plan_a", "pm_b", ptr(1)), "5309702beae65bff49746e3c1c1dba0b39dd044505b16d06535312f5a8dc2ca3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestParseIDs(t *testing.T) {
	order := domain.OrderIDFor(alice, "key-1")
	sub := domain.SubscriptionIDFor(order)
	parse := map[string]func(string) error{
		"order":        func(s string) error { _, err := domain.ParseOrderID(s); return err },
		"subscription": func(s string) error { _, err := domain.ParseSubscriptionID(s); return err },
		"card":         func(s string) error { _, err := domain.ParsePaymentMethodID(s); return err },
		"session":      func(s string) error { _, err := domain.ParseSetupSessionID(s); return err },
		"plan":         func(s string) error { _, err := domain.ParsePlanID(s); return err },
	}
	tests := []struct {
		kind   string
		input  string
		wantOK bool
	}{
		{"order", string(order), true},
		{"order", string(sub), false},
		{"order", "ord_" + string(order[4:35]), false},
		{"order", "ord_" + string(order[4:35]) + "G", false},
		{"order", "ORD_" + string(order[4:]), false},
		{"order", "ord_" + uuid.MustParse("5a0f1c2e-6b7d-4e8f-9a1b-2c3d4e5f6a7b").String(), false},
		{"order", "ord_5A0F1C2E6B7D4E8F9A1B2C3D4E5F6A7B", false},
		{"subscription", string(sub), true},
		{"subscription", string(order), false},
		{"card", string(card()), true},
		{"card", "pm_card_visa", false},
		{"session", string(session()), true},
		{"session", "", false},
		{"plan", "plan_robot_hours_10", true},
		{"plan", "plan_", false},
		{"plan", "plan_a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.input, func(t *testing.T) {
			err := parse[tt.kind](tt.input)
			if (err == nil) != tt.wantOK {
				t.Errorf("parse %s %q: err %v, want ok %v", tt.kind, tt.input, err, tt.wantOK)
			}
		})
	}
	if got, _ := domain.ParseOrderID(string(order)); got.UUID() == uuid.Nil || got.Stream() != order.Stream() {
		t.Errorf("parsed order id lost its uuid")
	}
}

func TestFingerprint(t *testing.T) {
	base := domain.Fingerprint("plan_a", "pm_b", nil)
	tests := []struct {
		name     string
		got      string
		wantSame bool
	}{
		{"same body", domain.Fingerprint("plan_a", "pm_b", nil), true},
		{"amount 0 is not an omitted amount", domain.Fingerprint("plan_a", "pm_b", ptr(0)), false},
		{"an amount", domain.Fingerprint("plan_a", "pm_b", ptr(100)), false},
		{"another plan", domain.Fingerprint("plan_c", "pm_b", nil), false},
		{"another card", domain.Fingerprint("plan_a", "pm_c", nil), false},
		{"fields cannot bleed into each other", domain.Fingerprint("plan_apm_b", "", nil), false},
		{"fields cannot be swapped", domain.Fingerprint("pm_b", "plan_a", nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.got == base) != tt.wantSame {
				t.Errorf("fingerprint %s vs %s: want same %v", tt.got, base, tt.wantSame)
			}
		})
	}
	one, alsoOne := ptr(1), ptr(1)
	if domain.Fingerprint("p", "m", one) != domain.Fingerprint("p", "m", alsoOne) {
		t.Errorf("equal amounts behind different pointers must fingerprint alike")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Errorf("fingerprint %q is not hex sha256", base)
	}
}

func TestDecidedEventIDs(t *testing.T) {
	first := domain.PlacedEventID(fleetOrder())

	got := domain.DecidedEventIDs(first, fleetPurchase())

	want := []uuid.UUID{first, domain.EventIDFor(first, domain.EventSubscriptionCreated)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("DecidedEventIDs = %v, want %v", got, want)
	}
	if len(domain.DecidedEventIDs(first, nil)) != 0 {
		t.Errorf("ids for no events")
	}
}

// Streams are named by the id's UUID in its canonical text; a malformed id
// names the nil UUID's stream, as before.
func TestStreamNamesAreTheUUIDsText(t *testing.T) {
	for i := range 100 {
		order := domain.OrderIDFor(alice, fmt.Sprintf("key-%d", i))
		sub := domain.SubscriptionIDFor(order)
		if got, want := order.Stream(), "order-"+order.UUID().String(); got != want {
			t.Fatalf("order %s: stream %s, want %s", order, got, want)
		}
		if got, want := sub.Stream(), "subscription-"+sub.UUID().String(); got != want {
			t.Fatalf("subscription %s: stream %s, want %s", sub, got, want)
		}
	}
	if got := domain.OrderID("ord_5A0F1C2E6B7D4E8F9A1B2C3D4E5F6A7B").Stream(); got != "order-"+uuid.Nil.String() {
		t.Errorf("malformed id: stream %s", got)
	}
}
