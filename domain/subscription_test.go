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

var dunning = []time.Duration{24 * time.Hour, 72 * time.Hour, 120 * time.Hour}

// due is attempt n of the renewal of the period starting feb15.
func due(n int) domain.SubscriptionRenewalDue {
	at := feb15
	if n > 1 {
		at = feb15.Add(dunning[n-2])
	}
	return domain.SubscriptionRenewalDue{SubscriptionRef: subRef(), RenewalOrderID: renewalOrder(), PeriodStart: feb15,
		Attempt: n, Final: n == len(dunning)+1, DueAt: at}
}

// declined is attempt n's decline as the subscription records it.
func declined(n int) domain.SubscriptionPastDue {
	e := domain.SubscriptionPastDue{SubscriptionRef: subRef(), FailureCode: "card_declined", At: due(n).DueAt, Attempt: n}
	if n <= len(dunning) {
		e.RetryAt = feb15.Add(dunning[n-1])
	}
	return e
}

func TestDueRenewal(t *testing.T) {
	at := func(now time.Time) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.DueRenewal(now, dunning) }
	}
	given(t, subscriptionOf, at(feb15.Add(-time.Second)), []spec{
		{"before the period ends: nothing", active(), nil, nil},
	})
	given(t, subscriptionOf, at(feb15), []spec{
		{"at the period end: attempt 1", active(), events(due(1)), nil},
		{"attempt 1 in flight: nothing", append(active(), due(1)), nil, nil},
		{"declined, the first retry not due yet", append(active(), due(1), declined(1)), nil, nil},
		{"incomplete: nothing", created(), nil, nil},
		{"canceled: nothing", canceled(), nil, nil},
	})
	given(t, subscriptionOf, at(feb15.Add(24*time.Hour)), []spec{
		{"a day later: attempt 2", append(active(), due(1), declined(1)), events(due(2)), nil},
	})
	given(t, subscriptionOf, at(feb15.Add(200*time.Hour)), []spec{
		{"after every retry: the final attempt", append(active(), due(1), declined(1), due(2), declined(2), due(3), declined(3)), events(due(4)), nil},
		{"the final attempt made: nothing more", append(active(), due(1), declined(1), due(2), declined(2), due(3), declined(3), due(4)), nil, nil},
	})
}

func TestSettleRenewal(t *testing.T) {
	settle := func(d domain.SubscriptionRenewalDue, p domain.Payment) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) { return s.SettleRenewal(d, p, dunning, d.DueAt) }
	}
	paid := domain.Payment{Succeeded: true, ProviderPaymentID: "pi_renewal"}
	decline := domain.Payment{FailureCode: "card_declined"}
	renewedLate := subRenewed() // a late success does not shift the period
	given(t, subscriptionOf, settle(due(1), paid), []spec{
		{"paid: renewed", append(active(), due(1)), events(subRenewed()), nil},
		{"canceled meanwhile: nothing (the caller refunds)", append(canceled(), due(1)), nil, nil},
	})
	given(t, subscriptionOf, settle(due(3), paid), []spec{
		{"a retry paid: renewed from the old period end", append(active(), due(1), declined(1), due(2), declined(2), due(3)), events(renewedLate), nil},
	})
	given(t, subscriptionOf, settle(due(1), decline), []spec{
		{"declined: past_due until the first retry", append(active(), due(1)), events(declined(1)), nil},
		{"recorded already: nothing", append(active(), due(1), declined(1)), nil, nil},
	})
	final := domain.SubscriptionCancelRequested{SubscriptionRef: subRef(), Reason: domain.ReasonPaymentFailed, RequestedAt: due(4).DueAt}
	given(t, subscriptionOf, settle(due(4), decline), []spec{
		{"the final attempt declined: canceled", append(active(), due(1), declined(1), due(2), declined(2), due(3), declined(3), due(4)), events(final), nil},
	})
}

func TestSettleRenewalAttempt(t *testing.T) {
	placed := subscriptionOf(active()...).RenewalOrder(due(1))
	settle := func(d domain.SubscriptionRenewalDue, p domain.Payment) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.SettleRenewalAttempt(d, p, d.DueAt) }
	}
	decline := domain.Payment{FailureCode: "card_declined", FailureMessage: "declined"}
	attempt1 := domain.PaymentAttemptFailed{OrderRef: placed.OrderRef, Attempt: 1, FailureCode: "card_declined", FailureMessage: "declined", FailedAt: feb15}
	given(t, orderOf, settle(due(1), decline), []spec{
		{"declined: pending, with the decline", events(placed), events(attempt1), nil},
		{"recorded already: nothing", events(placed, attempt1), nil, nil},
	})
	lastFailed := domain.OrderPaymentFailed{OrderRef: placed.OrderRef, FailureCode: "card_declined", FailureMessage: "declined", FailedAt: due(4).DueAt}
	given(t, orderOf, settle(due(4), decline), []spec{
		{"the final attempt declined: failed", events(placed, attempt1), events(lastFailed), nil},
	})
	paid := domain.OrderPaid{OrderRef: placed.OrderRef, ProviderPaymentID: "pi_renewal", PaidAt: due(2).DueAt}
	given(t, orderOf, settle(due(2), domain.Payment{Succeeded: true, ProviderPaymentID: "pi_renewal"}), []spec{
		{"a retry paid: paid", events(placed, attempt1), events(paid), nil},
	})
	if o := orderOf(placed, attempt1); o.Status != domain.OrderStatusPending || o.FailureCode != "card_declined" {
		t.Errorf("after a declined attempt the order is %s (%q), want pending with the decline", o.Status, o.FailureCode)
	}
	if o := orderOf(placed, attempt1, paid); o.FailureCode != "" {
		t.Errorf("a paid order keeps failure code %q", o.FailureCode)
	}
}

func TestRenewalOrder(t *testing.T) {
	amount := int64(19900)
	want := domain.OrderPlaced{
		OrderRef: domain.OrderRef{
			OrderID: renewalOrder(), UserID: alice, PlanID: "plan_fleet_monthly", Amount: 19900, Currency: "usd",
		},
		PaymentMethodID: card(), SubscriptionID: subID(), Renewal: true,
		IdempotencyKey: "renewal:" + string(subID()) + ":2030-02-15T10:00:00Z",
		Fingerprint:    domain.Fingerprint("plan_fleet_monthly", string(card()), &amount),
		PlacedAt:       feb15, // the period boundary
	}
	if got := subscriptionOf(active()...).RenewalOrder(due(1)); got != want {
		t.Fatalf("renewal order = %+v, want %+v", got, want)
	}
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
	order := orderOf(subscriptionOf(subCreated(), subStarted()).RenewalOrder(due(1)))

	got, err := order.Pay("pi_renewal", feb15)

	want := []domain.Event{domain.OrderPaid{OrderRef: domain.OrderRef{OrderID: order.ID, UserID: order.UserID, PlanID: order.PlanID, Amount: order.Money.Amount, Currency: order.Money.Currency}, ProviderPaymentID: "pi_renewal", PaidAt: feb15}}
	then(t, got, err, want, nil)
	if !order.Renewal || order.SubscriptionID != subID() || order.ID != renewalOrder() {
		t.Errorf("renewal order %+v does not point at its subscription", order)
	}
}

func scheduled() domain.CancelScheduled {
	return domain.CancelScheduled{SubscriptionRef: subRef(), ScheduledAt: jan15}
}

func TestScheduleAndUnscheduleCancel(t *testing.T) {
	schedule := func(s *domain.Subscription) ([]domain.Event, error) { return s.ScheduleCancel(jan15) }
	given(t, subscriptionOf, schedule, []spec{
		{"active: scheduled", active(), events(scheduled()), nil},
		{"past_due: scheduled", overdue(), events(scheduled()), nil},
		{"scheduled already: nothing", append(active(), scheduled()), nil, nil},
		{"canceled", canceled(), nil, domain.ErrSubscriptionCanceled},
		{"incomplete: no period to end", created(), nil, domain.ErrInvalidTransition},
	})
	unscheduled := domain.CancelUnscheduled{SubscriptionRef: subRef(), UnscheduledAt: jan15}
	unschedule := func(s *domain.Subscription) ([]domain.Event, error) { return s.UnscheduleCancel(jan15) }
	given(t, subscriptionOf, unschedule, []spec{
		{"scheduled: taken back", append(active(), scheduled()), events(unscheduled), nil},
		{"nothing scheduled: nothing", active(), nil, nil},
		{"canceled", canceled(), nil, domain.ErrSubscriptionCanceled},
	})
	// At the period's end a scheduled cancellation ends it, not renews it.
	end := domain.SubscriptionCancelRequested{SubscriptionRef: subRef(), Reason: domain.ReasonCustomerRequest, RequestedAt: feb15}
	due := func(s *domain.Subscription) ([]domain.Event, error) {
		return s.DueRenewal(feb15.Add(time.Hour), dunning)
	}
	given(t, subscriptionOf, due, []spec{
		{"scheduled: canceled at the period end", append(active(), scheduled()), events(end), nil},
		{"taken back: renewed", append(active(), scheduled(), unscheduled), events(dueAt(1, feb15)), nil},
	})
	if s := subscriptionOf(append(active(), scheduled(), end)...); s.CancelReasonView() != "requested" || !s.CanceledAt.Equal(feb15) {
		t.Errorf("ended at the period end: reason %q at %v, want requested at %v", s.CancelReasonView(), s.CanceledAt, feb15)
	}
}

func dueAt(n int, at time.Time) domain.SubscriptionRenewalDue {
	d := due(n)
	d.DueAt = at
	return d
}

func TestChangeCard(t *testing.T) {
	wallet := domain.NewWallet(alice)
	for _, e := range events(cardAttached(alice)) {
		wallet.Apply(e)
	}
	other := domain.PaymentMethodID("pm_00000000000000000000000000000009")
	change := func(pm domain.PaymentMethodID) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) {
			return s.ChangeCard(pm, wallet, feb15.Add(48*time.Hour))
		}
	}
	changed := domain.SubscriptionCardChanged{SubscriptionRef: subRef(), PaymentMethodID: card(), ChangedAt: feb15.Add(48 * time.Hour)}
	given(t, subscriptionOf, change(card()), []spec{
		{"the same card: nothing", active(), nil, nil},
		{"canceled", canceled(), nil, domain.ErrSubscriptionCanceled},
	})
	given(t, subscriptionOf, change(other), []spec{
		{"a card the wallet does not have", active(), nil, domain.ErrPaymentMethodNotFound},
	})
	onOther := domain.SubscriptionCardChanged{SubscriptionRef: subRef(), PaymentMethodID: other, ChangedAt: jan15}
	given(t, subscriptionOf, change(card()), []spec{
		{"back to a saved card", append(active(), onOther), events(changed), nil},
	})
	// past_due: the unpaid renewal is retried at once with the new card.
	s := subscriptionOf(append(active(), onOther, due(1), declined(1), changed)...)
	if at, attempt, ok := s.NextCharge(dunning); !ok || attempt != 2 || !at.Equal(changed.ChangedAt) {
		t.Fatalf("after a card change while past_due the next attempt is %d at %v (%v), want 2 at once (%v)", attempt, at, ok, changed.ChangedAt)
	}
}
