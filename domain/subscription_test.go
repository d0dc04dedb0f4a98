package domain_test

import (
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

// Fixtures: alice's monthly fleet subscription, started by the order of key
// "fleet".

func fleetOrder() domain.OrderID { return domain.OrderIDFor(alice, "fleet") }

func subID() domain.SubscriptionID { return domain.SubscriptionIDFor(fleetOrder()) }

func subRef() domain.SubscriptionRef {
	return domain.SubscriptionRef{SubscriptionID: subID(), UserID: alice, PlanID: "plan_fleet_monthly", OrderID: fleetOrder()}
}

func subCreated() domain.SubscriptionCreated {
	return domain.SubscriptionCreated{
		SubscriptionRef: subRef(), Interval: domain.Month, IntervalCount: 1,
		Amount: 19900, Currency: "usd", PaymentMethodID: card(), CreatedAt: clock(),
	}
}

// Periods: January 15 → February 15 → March 15.
var (
	jan15 = time.Date(2030, time.January, 15, 10, 0, 0, 0, time.UTC)
	feb15 = time.Date(2030, time.February, 15, 10, 0, 0, 0, time.UTC)
	mar15 = time.Date(2030, time.March, 15, 10, 0, 0, 0, time.UTC)
)

func subStarted() domain.SubscriptionStarted {
	return domain.SubscriptionStarted{SubscriptionRef: subRef(), CurrentPeriodStart: jan15, CurrentPeriodEnd: feb15, ProviderSubscriptionID: "sub_sbx_1"}
}

func renewalOrder() domain.OrderID { return domain.RenewalOrderIDFor(subID(), feb15) }

func subRenewed() domain.SubscriptionRenewed {
	return domain.SubscriptionRenewed{SubscriptionRef: subRef(), RenewalOrderID: renewalOrder(), CurrentPeriodStart: feb15, CurrentPeriodEnd: mar15}
}

func subPastDue() domain.SubscriptionPastDue {
	return domain.SubscriptionPastDue{SubscriptionRef: subRef(), FailureCode: "card_declined", At: feb15}
}

func cancelRequested() domain.SubscriptionCancelRequested {
	return domain.SubscriptionCancelRequested{SubscriptionRef: subRef(), Reason: domain.ReasonCustomerRequest, RequestedAt: later(time.Hour)}
}

func subCanceled(reason string) domain.SubscriptionCanceled {
	return domain.SubscriptionCanceled{SubscriptionRef: subRef(), Reason: reason, CanceledAt: later(2 * time.Hour)}
}

func subscriptionOf(events ...domain.Event) *domain.Subscription {
	s := &domain.Subscription{}
	for _, e := range events {
		s.Apply(e)
	}
	return s
}

// Subscription histories.
func created() []domain.Event  { return events(subCreated()) }
func active() []domain.Event   { return events(subCreated(), subStarted()) }
func overdue() []domain.Event  { return events(subCreated(), subStarted(), subPastDue()) }
func canceled() []domain.Event { return events(subCreated(), subStarted(), cancelRequested()) }
func ended() []domain.Event {
	return events(subCreated(), subStarted(), cancelRequested(), subCanceled(domain.ReasonProvider))
}

func TestStartSubscription(t *testing.T) {
	start := func(s *domain.Subscription) ([]domain.Event, error) { return s.Start(jan15, "sub_sbx_1", jan15) }
	given(t, subscriptionOf, start, []spec{
		{"an incomplete subscription starts", created(), events(subStarted()), nil},
		{"an active subscription: nothing", active(), nil, nil},
		{"a past_due subscription: nothing", overdue(), nil, nil},
		{"a canceled subscription", canceled(), nil, domain.ErrInvalidTransition},
		{"a subscription never created", nil, nil, domain.ErrInvalidTransition},
	})
}

func TestRenewSubscription(t *testing.T) {
	renew := func(order domain.OrderID) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.Renew(order, feb15, time.Time{}, feb15) }
	}
	given(t, subscriptionOf, renew(renewalOrder()), []spec{
		{"an active subscription is renewed", active(), events(subRenewed()), nil},
		{"a past_due subscription is renewed", overdue(), events(subRenewed()), nil},
		{"the same renewal order again: nothing", append(active(), subRenewed()), nil, nil},
		{"an incomplete subscription", created(), nil, domain.ErrInvalidTransition},
		{"a canceled subscription", canceled(), nil, domain.ErrInvalidTransition},
	})
	given(t, subscriptionOf, renew("ord_x"), []spec{
		{"a malformed order id", active(), nil, invalid("order_id")},
	})
	// A provider billing by itself says where the period ends.
	apr1 := time.Date(2030, time.April, 1, 0, 0, 0, 0, time.UTC)
	until := func(end time.Time) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) {
			return s.Renew(renewalOrder(), feb15, end, feb15)
		}
	}
	toApril := subRenewed()
	toApril.CurrentPeriodEnd = apr1
	given(t, subscriptionOf, until(apr1), []spec{{"to the provider's end", active(), events(toApril), nil}})
	given(t, subscriptionOf, until(feb15), []spec{{"an end not after the start", active(), nil, invalid("current_period_end")}})
}

func TestMarkPastDue(t *testing.T) {
	pastDue := func(code string) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.MarkPastDue(code, feb15) }
	}
	given(t, subscriptionOf, pastDue("card_declined"), []spec{
		{"an active subscription falls past due", active(), events(subPastDue()), nil},
		{"a past_due subscription again: nothing", overdue(), nil, nil},
		{"an incomplete subscription", created(), nil, domain.ErrInvalidTransition},
		{"a canceled subscription", canceled(), nil, domain.ErrInvalidTransition},
	})
	given(t, subscriptionOf, pastDue(""), []spec{
		{"without a code", active(), nil, invalid("failure_code")},
	})
}

func TestRequestCancel(t *testing.T) {
	cancel := func(reason string) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.RequestCancel(reason, later(time.Hour)) }
	}
	given(t, subscriptionOf, cancel(domain.ReasonCustomerRequest), []spec{
		{"an active subscription", active(), events(cancelRequested()), nil},
		{"an incomplete subscription", created(), events(cancelRequested()), nil},
		{"a past_due subscription", overdue(), events(cancelRequested()), nil},
		{"a canceled subscription: nothing", canceled(), nil, nil},
		{"an ended subscription: nothing", ended(), nil, nil},
		{"after the first payment failed: nothing", append(created(), subCanceled(domain.ReasonFirstPaymentFailed)), nil, nil},
		{"a subscription never created", nil, nil, domain.ErrInvalidTransition},
	})
	given(t, subscriptionOf, cancel(""), []spec{
		{"without a reason", active(), nil, invalid("reason")},
	})
}

func TestConfirmCanceled(t *testing.T) {
	confirm := func(reason string) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) {
			return s.ConfirmCanceled(reason, later(2*time.Hour))
		}
	}
	given(t, subscriptionOf, confirm(domain.ReasonProvider), []spec{
		{"the provider confirms a requested cancel", canceled(), events(subCanceled(domain.ReasonProvider)), nil},
		{"confirmed again: nothing", ended(), nil, nil},
		{"the provider ends a past_due subscription", overdue(), events(subCanceled(domain.ReasonProvider)), nil},
		{"a subscription never created", nil, nil, domain.ErrInvalidTransition},
	})
	given(t, subscriptionOf, confirm(domain.ReasonFirstPaymentFailed), []spec{
		{"the first payment failed", created(), events(subCanceled(domain.ReasonFirstPaymentFailed)), nil},
	})
	given(t, subscriptionOf, confirm(domain.ReasonFirstOrderRefunded), []spec{
		{"the first order was refunded", active(), events(subCanceled(domain.ReasonFirstOrderRefunded)), nil},
	})
	given(t, subscriptionOf, confirm(""), []spec{
		{"without a reason", canceled(), nil, invalid("reason")},
	})
}

func TestSubscriptionState(t *testing.T) {
	tests := []struct {
		name           string
		given          []domain.Event
		wantStatus     domain.SubscriptionStatus
		wantCanceledAt time.Time
		wantReason     string
		wantPeriodEnd  time.Time
	}{
		{"created", []domain.Event{subCreated()}, domain.SubscriptionStatusIncomplete, time.Time{}, "", time.Time{}},
		{"started", []domain.Event{subCreated(), subStarted()}, domain.SubscriptionStatusActive, time.Time{}, "", feb15},
		{"past due", []domain.Event{subCreated(), subStarted(), subPastDue()}, domain.SubscriptionStatusPastDue, time.Time{}, "", feb15},
		{"renewed after past due", []domain.Event{subCreated(), subStarted(), subPastDue(), subRenewed()}, domain.SubscriptionStatusActive, time.Time{}, "", mar15},
		{"cancel requested: canceled at once", []domain.Event{subCreated(), subStarted(), cancelRequested()}, domain.SubscriptionStatusCanceled, later(time.Hour), domain.ReasonCustomerRequest, feb15},
		{"cancel confirmed keeps the request's time and reason", []domain.Event{subCreated(), subStarted(), cancelRequested(), subCanceled(domain.ReasonProvider)}, domain.SubscriptionStatusCanceled, later(time.Hour), domain.ReasonCustomerRequest, feb15},
		{"first payment failed", []domain.Event{subCreated(), subCanceled(domain.ReasonFirstPaymentFailed)}, domain.SubscriptionStatusCanceled, later(2 * time.Hour), domain.ReasonFirstPaymentFailed, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := subscriptionOf(tt.given...)
			if got.Status != tt.wantStatus || !got.CanceledAt.Equal(tt.wantCanceledAt) ||
				got.CancelReason != tt.wantReason || !got.CurrentPeriodEnd.Equal(tt.wantPeriodEnd) {
				t.Errorf("got status %s canceled_at %v reason %q period end %v\nwant %s %v %q %v",
					got.Status, got.CanceledAt, got.CancelReason, got.CurrentPeriodEnd,
					tt.wantStatus, tt.wantCanceledAt, tt.wantReason, tt.wantPeriodEnd)
			}
		})
	}
}

func TestPlaceRenewalOrder(t *testing.T) {
	amount := int64(19900)
	want := domain.OrderPlaced{
		OrderRef: domain.OrderRef{
			OrderID: renewalOrder(), UserID: alice, PlanID: "plan_fleet_monthly", Amount: 19900, Currency: "usd",
		},
		PaymentMethodID: card(), SubscriptionID: subID(), Renewal: true,
		IdempotencyKey: "renewal:" + string(subID()) + ":2030-02-15T10:00:00Z",
		Fingerprint:    domain.Fingerprint("plan_fleet_monthly", string(card()), &amount),
		PlacedAt:       feb15,
	}
	place := func(s *domain.Subscription) ([]domain.Event, error) { return s.PlaceRenewalOrder(feb15) }
	given(t, subscriptionOf, place, []spec{
		{"active: the next period's order", active(), events(want), nil},
		{"past due: the same period's order again", overdue(), events(want), nil},
		{"incomplete", created(), nil, domain.ErrInvalidTransition},
		{"canceled", canceled(), nil, domain.ErrInvalidTransition},
	})
}

func TestRenewalCharged(t *testing.T) {
	amount := int64(21900) // the price changed at the provider: what it took is recorded
	placed := domain.OrderPlaced{
		OrderRef: domain.OrderRef{
			OrderID: domain.InvoiceOrderIDFor(subID(), "in_1"), UserID: alice, PlanID: "plan_fleet_monthly", Amount: amount, Currency: "eur",
		},
		PaymentMethodID: card(), SubscriptionID: subID(), Renewal: true,
		IdempotencyKey: "invoice:" + string(subID()) + ":in_1",
		Fingerprint:    domain.Fingerprint("plan_fleet_monthly", string(card()), &amount),
		PlacedAt:       feb15,
	}
	paid := domain.OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: "pi_renewal", PaidAt: mar15}
	invoice := domain.ChargedRenewal{InvoiceID: "in_1", ProviderPaymentID: "pi_renewal", Amount: amount, Currency: "eur", PeriodStart: feb15, PeriodEnd: mar15}
	charge := func(c domain.ChargedRenewal) func(s *domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.RenewalCharged(c, mar15) }
	}
	given(t, subscriptionOf, charge(invoice), []spec{
		{"active: the invoice's order, paid", active(), events(placed, paid), nil},
		{"canceled: recorded all the same (the money was taken)", canceled(), events(placed, paid), nil},
		{"never created", nil, nil, domain.ErrInvalidTransition},
	})
	for _, tc := range []struct {
		field  string
		change func(*domain.ChargedRenewal)
	}{
		{"invoice_id", func(c *domain.ChargedRenewal) { c.InvoiceID = "" }},
		{"provider_payment_id", func(c *domain.ChargedRenewal) { c.ProviderPaymentID = "" }},
		{"amount", func(c *domain.ChargedRenewal) { c.Amount = 0 }},
		{"currency", func(c *domain.ChargedRenewal) { c.Currency = "" }},
	} {
		c := invoice
		tc.change(&c)
		given(t, subscriptionOf, charge(c), []spec{{"without " + tc.field, active(), nil, invalid(tc.field)}})
	}
	// Another invoice for the same period is another order.
	other := invoice
	other.InvoiceID = "in_2"
	got, err := subscriptionOf(active()...).RenewalCharged(other, mar15)
	if err != nil || got[0].(domain.OrderPlaced).OrderID == placed.OrderID {
		t.Fatalf("a second invoice for the period = %v, %v; want its own order", got, err)
	}
}

func TestRenewalOrderIsAnOrdinaryOrder(t *testing.T) {
	events, err := subscriptionOf(subCreated(), subStarted()).PlaceRenewalOrder(feb15)
	if err != nil {
		t.Fatal(err)
	}
	order := orderOf(events...)

	got, err := order.Pay("pi_renewal", feb15)

	want := []domain.Event{domain.OrderPaid{OrderRef: events[0].(domain.OrderPlaced).OrderRef, ProviderPaymentID: "pi_renewal", PaidAt: feb15}}
	then(t, got, err, want, nil)
	if !order.Renewal || order.SubscriptionID != subID() || order.ID != renewalOrder() {
		t.Errorf("renewal order %+v does not point at its subscription", order)
	}
}
