package domain_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

// everyEvent holds one fully populated event of every stored type.
func everyEvent() []domain.Event {
	placedRenewal := placed()
	placedRenewal.SubscriptionID, placedRenewal.Renewal = subID(), true
	return []domain.Event{
		domain.PlanPublished{Plan: customPlan()},
		domain.PlanChanged{Plan: monthlyPlan()},
		domain.PlanRetired{PlanID: "plan_robot_hours_10"},
		domain.CustomerCreated{UserID: alice, Provider: "sandbox", CustomerID: "cus_1", CreatedAt: clock()},
		setupStarted(alice),
		cardAttached(alice),
		domain.CardDetached{UserID: alice, PaymentMethodID: card(), DetachedAt: later(time.Hour)},
		placedRenewal,
		paid(),
		paymentFailed(),
		refundRequested(),
		refunded(),
		refundFailed(),
		domain.PaymentAttemptFailed{OrderRef: orderRef(), Attempt: 1, FailureCode: "card_declined", FailureMessage: "declined", FailedAt: feb15},
		subCreated(),
		subStarted(),
		due(4),
		subRenewed(),
		declined(1),
		domain.SubscriptionCardChanged{SubscriptionRef: subRef(), PaymentMethodID: card(), ChangedAt: feb15},
		domain.CancelScheduled{SubscriptionRef: subRef(), ScheduledAt: feb15},
		domain.CancelUnscheduled{SubscriptionRef: subRef(), UnscheduledAt: feb15},
		cancelRequested(),
		subCanceled(domain.ReasonProvider),
		domain.ProviderEventReceived{Provider: "stripe", EventID: "evt_1", Type: "payment_intent.succeeded", Created: clock(),
			Object: json.RawMessage(`{"id":"pi_1","object":"payment_intent"}`), PreviousAttributes: json.RawMessage(`{"status":"processing"}`),
			ReceivedAt: later(time.Second)},
		domain.ClockAdvanced{UserID: alice, To: feb15},
		domain.AuditSealed{Seal: 2, FromPosition: 120, ToPosition: 480, Events: 360, Streams: 95,
			Digest: strings.Repeat("ab", 32), PrevDigest: strings.Repeat("cd", 32), SealedAt: feb15},
	}
}

func TestEveryEventTypeHasASample(t *testing.T) {
	var got []string
	for _, e := range everyEvent() {
		got = append(got, e.EventType())
	}
	if want := domain.EventTypes(); !reflect.DeepEqual(got, want) {
		t.Errorf("samples cover %v\nwant %v", got, want)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, want := range everyEvent() {
		t.Run(want.EventType(), func(t *testing.T) {
			typ, data, err := domain.Encode(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := domain.Decode(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %#v\nwant %#v", got, want)
			}
			if got.StreamID() != want.StreamID() {
				t.Errorf("stream %s, want %s", got.StreamID(), want.StreamID())
			}
		})
	}
}

func TestDecodeIgnoresUnknownFields(t *testing.T) {
	for _, want := range everyEvent() {
		t.Run(want.EventType(), func(t *testing.T) {
			typ, data, err := domain.Encode(want)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(data, &body); err != nil {
				t.Fatal(err)
			}
			body["field_added_later"] = map[string]any{"x": 1}
			extended, _ := json.Marshal(body)

			got, err := domain.Decode(typ, extended)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %#v, want %#v", got, want)
			}
		})
	}
}

func TestOrderAndSubscriptionBodiesCarryTheirReference(t *testing.T) {
	for _, e := range everyEvent() {
		var want []string
		switch {
		case strings.HasPrefix(e.EventType(), "order."):
			want = []string{"order_id", "user_id", "plan_id", "amount", "currency"}
		case strings.HasPrefix(e.EventType(), "subscription."):
			want = []string{"subscription_id", "user_id", "plan_id", "order_id"}
		case strings.HasPrefix(e.EventType(), "wallet."):
			want = []string{"user_id"}
		}
		_, data, _ := domain.Encode(e)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Fatal(err)
		}
		for _, field := range want {
			if _, ok := body[field]; !ok {
				t.Errorf("%s body %s lacks %q", e.EventType(), data, field)
			}
		}
	}
}

func TestTimesAreStoredAsRFC3339UTC(t *testing.T) {
	e := paid()
	e.PaidAt = e.PaidAt.In(time.FixedZone("CET", 3600))
	o := orderOf(placed())

	events, err := o.Pay("pi_1", e.PaidAt)
	if err != nil {
		t.Fatal(err)
	}
	_, data, _ := domain.Encode(events[0])
	if want := `"paid_at":"2030-01-15T10:00:01Z"`; !strings.Contains(string(data), want) {
		t.Errorf("body %s lacks %s", data, want)
	}
}

func TestDecodeRefusesUnknownTypes(t *testing.T) {
	_, err := domain.Decode("order.teleported", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "order.teleported") {
		t.Errorf("Decode of an unknown type: err %v, want one naming it", err)
	}
	if _, err := domain.Decode(domain.EventOrderPaid, []byte(`{"amount": "many"}`)); err == nil {
		t.Errorf("Decode of a malformed body succeeded")
	}
	if _, _, err := domain.Encode(foreignEvent{}); err == nil {
		t.Errorf("Encode of a type outside the catalog succeeded")
	}
}

type foreignEvent struct{}

func (foreignEvent) EventType() string { return "order.foreign" }
func (foreignEvent) StreamID() string  { return "order-x" }

func TestEventTypeNames(t *testing.T) {
	form := regexp.MustCompile(`^(catalog|wallet|order|subscription|provider|clock|audit)\.[a-z]+(_[a-z]+)*$`)
	seen := make(map[string]bool)
	for _, typ := range domain.EventTypes() {
		if seen[typ] {
			t.Errorf("duplicate event type %s", typ)
		}
		seen[typ] = true
		if !form.MatchString(typ) {
			t.Errorf("event type %q is not <aggregate>.<snake_event>", typ)
		}
	}
}
