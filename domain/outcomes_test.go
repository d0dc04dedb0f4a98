package domain_test

import (
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

func TestSettlePayment(t *testing.T) {
	settle := func(p domain.Payment) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.SettlePayment(p, later(time.Second)) }
	}
	succeeded := domain.Payment{Succeeded: true, ProviderPaymentID: "pi_1"}
	declined := domain.Payment{FailureCode: "card_declined", FailureMessage: "declined"}
	given(t, orderOf, settle(succeeded), []spec{
		{"a pending order is paid", events(placed()), events(paid()), nil},
		{"paid again: nothing", events(placed(), paid()), nil, nil},
		{"refunded: nothing", events(placed(), paid(), refundRequested(), refunded()), nil, nil},
		{"failed by the ledger alone: the provider's word wins", events(placed(), failedByLedger(domain.FailurePaymentExpired)), events(paid()), nil},
		{"declined by the provider", events(placed(), paymentFailed()), nil, domain.ErrInvalidTransition},
	})
	given(t, orderOf, settle(declined), []spec{
		{"a pending order fails", events(placed()), events(paymentFailed()), nil},
		{"a failure after the payment: nothing", events(placed(), paid()), nil, nil},
		{"a failure after a refund was asked: nothing", events(placed(), paid(), refundRequested()), nil, nil},
		{"failed again: nothing", events(placed(), paymentFailed()), nil, nil},
		{"never placed", nil, nil, domain.ErrInvalidTransition},
	})
}

func TestSettleRefund(t *testing.T) {
	settle := func(r domain.RefundOutcome) func(*domain.Order) ([]domain.Event, error) {
		return func(o *domain.Order) ([]domain.Event, error) { return o.SettleRefund(r, later(time.Hour)) }
	}
	given(t, orderOf, settle(domain.RefundOutcome{Succeeded: true, ProviderRefundID: "re_provider_1"}), []spec{
		{"a pending refund completes", events(placed(), paid(), refundRequested()), events(refunded()), nil},
		{"refunded already: nothing", events(placed(), paid(), refundRequested(), refunded()), nil, nil},
		{"no refund asked: nothing", events(placed(), paid()), nil, nil},
	})
	given(t, orderOf, settle(domain.RefundOutcome{FailureCode: "charge_disputed"}), []spec{
		{"a pending refund fails", events(placed(), paid(), refundRequested()), events(refundFailed()), nil},
		{"failed already: nothing", events(placed(), paid(), refundRequested(), refundFailed()), nil, nil},
	})
}

func TestRefundIfPaid(t *testing.T) {
	refund := func(o *domain.Order) ([]domain.Event, error) { return o.RefundIfPaid(later(time.Hour)) }
	given(t, orderOf, refund, []spec{
		{"a paid order's refund is requested", events(placed(), paid()), events(refundRequested()), nil},
		{"pending: nothing", events(placed()), nil, nil},
		{"failed: nothing", events(placed(), paymentFailed()), nil, nil},
		{"refund already requested: nothing", events(placed(), paid(), refundRequested()), nil, nil},
	})
}

func TestSettleFirstPayment(t *testing.T) {
	settle := func(p domain.Payment) func(*domain.Subscription) ([]domain.Event, error) {
		return func(s *domain.Subscription) ([]domain.Event, error) {
			return s.SettleFirstPayment(p, jan15, "sub_sbx_1", later(2*time.Hour))
		}
	}
	canceledFirst := events(subCreated(), cancelRequested())
	given(t, subscriptionOf, settle(domain.Payment{Succeeded: true, ProviderPaymentID: "pi_1"}), []spec{
		{"paid: started", created(), events(subStarted()), nil},
		{"started already: nothing", active(), nil, nil},
		{"canceled first: nothing, the cancellation decides", canceledFirst, nil, nil},
	})
	given(t, subscriptionOf, settle(domain.Payment{FailureCode: "card_declined"}), []spec{
		{"declined: ended", created(), events(subCanceled(domain.ReasonFirstPaymentFailed)), nil},
		{"canceled first: nothing", canceledFirst, nil, nil},
	})
	if s := subscriptionOf(canceledFirst...); !s.CanceledBeforeStart() || s.AwaitsStart() || s.Live() {
		t.Errorf("canceled before its start: CanceledBeforeStart %v, AwaitsStart %v, Live %v", s.CanceledBeforeStart(), s.AwaitsStart(), s.Live())
	}
	if s := subscriptionOf(canceled()...); s.CanceledBeforeStart() {
		t.Error("canceled after its start reported as canceled before it")
	}
}

func TestRenewalFailed(t *testing.T) {
	failed := func(s *domain.Subscription) ([]domain.Event, error) { return s.RenewalFailed("card_declined", feb15) }
	given(t, subscriptionOf, failed, []spec{
		{"active: past_due", active(), events(subPastDue()), nil},
		{"past_due already: nothing", overdue(), nil, nil},
		{"canceled: nothing", canceled(), nil, nil},
		{"incomplete: not renewed yet", created(), nil, domain.ErrInvalidTransition},
	})
}

func TestEndedByProvider(t *testing.T) {
	at := later(2 * time.Hour)
	end := func(s *domain.Subscription) ([]domain.Event, error) {
		return s.EndedByProvider(domain.ReasonProvider, at)
	}
	request := domain.SubscriptionCancelRequested{SubscriptionRef: subRef(), Reason: domain.ReasonProvider, RequestedAt: at}
	given(t, subscriptionOf, end, []spec{
		{"active: requested and confirmed at once", active(), events(request, subCanceled(domain.ReasonProvider)), nil},
		{"canceled by the customer: confirmed", canceled(), events(subCanceled(domain.ReasonProvider)), nil},
		{"ended already: nothing", ended(), nil, nil},
	})
	s := subscriptionOf(active()...)
	evs, err := s.EndedByProvider(domain.ReasonPaymentFailed, at)
	for _, e := range evs {
		s.Apply(e)
	}
	if err != nil || s.CancelReasonView() != "payment_failed" {
		t.Fatalf("ended by the provider for failed payments: %v, cancel_reason %q", err, s.CancelReasonView())
	}
}

func TestNewSubscriptionCreatedIsWhatPlacingDecides(t *testing.T) {
	purchase := fleetPurchase()
	catalog := domain.NewCatalog()
	evs, err := catalog.Sync(domain.DefaultPlans())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		catalog.Apply(e)
	}
	plan, _ := catalog.Known("plan_fleet_monthly")
	if got := domain.NewSubscriptionCreated(purchase[0].(domain.OrderPlaced), plan); got != purchase[1] {
		t.Fatalf("rebuilt %+v, placing decides %+v", got, purchase[1])
	}
}
