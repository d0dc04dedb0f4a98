package projections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

// TestReadModelsFoldAsTheDomainDoes: the same histories, decided by the
// domain's own methods, folded through domain.Order and
// domain.Subscription and through the projector, show the same status,
// refundability, failure and cancellation, so the read models cannot drift
// from the rules.
func TestReadModelsFoldAsTheDomainDoes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	at := t0.Add(time.Minute)
	orderSteps := map[string]func(*domain.Order) ([]domain.Event, error){
		"pay": func(o *domain.Order) ([]domain.Event, error) {
			return o.SettlePayment(domain.Payment{Succeeded: true, ProviderPaymentID: "pi_1"}, at)
		},
		"decline": func(o *domain.Order) ([]domain.Event, error) {
			return o.SettlePayment(domain.Payment{FailureCode: "card_declined"}, at)
		},
		"expire": func(o *domain.Order) ([]domain.Event, error) {
			return o.SettlePayment(domain.Payment{FailureCode: domain.FailurePaymentExpired}, at)
		},
		"ask": func(o *domain.Order) ([]domain.Event, error) { return o.RequestRefund(at) },
		"refund": func(o *domain.Order) ([]domain.Event, error) {
			return o.SettleRefund(domain.RefundOutcome{Succeeded: true, ProviderRefundID: "re_1"}, at)
		},
		"refuse": func(o *domain.Order) ([]domain.Event, error) {
			return o.SettleRefund(domain.RefundOutcome{FailureCode: "charge_disputed"}, at)
		},
		"dashboard": func(o *domain.Order) ([]domain.Event, error) { return o.RefundedByProvider("re_dash", at) },
		"undo":      func(o *domain.Order) ([]domain.Event, error) { return o.RefundIfPaid(at) },
	}
	orderHistories := []string{"", "pay", "decline", "expire", "expire pay", "pay ask", "pay ask refund", "pay ask refuse",
		"pay ask refuse ask refund", "pay dashboard", "pay ask dashboard", "pay undo", "decline decline", "pay decline"}

	subSteps := map[string]func(*domain.Subscription) ([]domain.Event, error){
		"start": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.SettleFirstPayment(domain.Payment{Succeeded: true, ProviderPaymentID: "pi_1"}, at, "sub_p", at)
		},
		"decline": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.SettleFirstPayment(domain.Payment{FailureCode: "card_declined"}, at, "", at)
		},
		"overdue": func(s *domain.Subscription) ([]domain.Event, error) { return s.RenewalFailed("card_declined", at) },
		"renew": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.Renew(domain.RenewalOrderIDFor(s.ID, s.CurrentPeriodEnd), s.CurrentPeriodEnd, time.Time{}, at)
		},
		"cancel": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.RequestCancel(domain.ReasonCustomerRequest, at)
		},
		"confirm": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.ConfirmCanceled(domain.ReasonCustomerRequest, at)
		},
		"ended": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.EndedByProvider(domain.ReasonProvider, at)
		},
		"schedule":   func(s *domain.Subscription) ([]domain.Event, error) { return s.ScheduleCancel(at) },
		"unschedule": func(s *domain.Subscription) ([]domain.Event, error) { return s.UnscheduleCancel(at) },
		"due": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.DueRenewal(at.AddDate(1, 0, 0), dunning)
		},
		"paid": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.SettleRenewal(inFlight(s), domain.Payment{Succeeded: true, ProviderPaymentID: "pi_2"}, dunning, at)
		},
		"declined": func(s *domain.Subscription) ([]domain.Event, error) {
			return s.SettleRenewal(inFlight(s), domain.Payment{FailureCode: "card_declined"}, dunning, at)
		},
	}
	subHistories := []string{"", "start", "decline", "start overdue", "start overdue renew", "start renew", "start cancel",
		"start cancel confirm", "cancel confirm", "cancel start", "start ended", "start overdue ended", "start cancel ended", "decline ended",
		"start due declined", "start due declined due paid", "start due declined due declined due declined due declined",
		"start due paid due declined cancel", "start schedule", "start schedule due", "start schedule unschedule due",
		"start due declined schedule due", "start schedule ended"}

	type want struct {
		order *domain.Order
		sub   *domain.Subscription
	}
	wants := map[string]want{}
	for i, history := range orderHistories {
		placed := placed("user_drift", fmt.Sprint("o", i), 4900, t0)
		o := &domain.Order{}
		o.Apply(placed)
		evs := decideAll(t, o, orderSteps, history)
		h.record(append([]domain.Event{placed}, evs...)...)
		wants["order "+history] = want{order: o}
	}
	for i, history := range subHistories {
		created := created(placed("user_drift", fmt.Sprint("s", i), 19900, t0))
		s := &domain.Subscription{}
		s.Apply(created)
		evs := decideAll(t, s, subSteps, history)
		h.record(append([]domain.Event{created}, evs...)...)
		wants["subscription "+history] = want{sub: s}
	}

	for name, w := range wants {
		if d := w.order; d != nil {
			got, err := h.rm.Order(ctx, "user_drift", string(d.ID))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			failure := ""
			if got.FailureCode != nil {
				failure = *got.FailureCode
			}
			if got.Status != string(d.Status) || got.IsRefundable != d.IsRefundable() || failure != d.FailureCode {
				t.Errorf("%q: read model %s (refundable %v, failure %q), domain %s (refundable %v, failure %q)",
					name, got.Status, got.IsRefundable, failure, d.Status, d.IsRefundable(), d.FailureCode)
			}
			continue
		}
		d := w.sub
		got, err := h.rm.Subscription(ctx, "user_drift", string(d.ID))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		canceled := got.CanceledAt != nil && got.CanceledAt.Equal(d.CanceledAt)
		if got.Status != string(d.Status) || canceled == d.CanceledAt.IsZero() {
			t.Errorf("%q: read model %s (canceled at %v), domain %s (canceled at %v)", name, got.Status, got.CanceledAt, d.Status, d.CanceledAt)
		}
		reason := ""
		if got.CancelReason != nil {
			reason = *got.CancelReason
		}
		if reason != d.CancelReasonView() || got.CancelAtPeriodEnd != d.CancelAtPeriodEnd || got.PaymentMethodID != string(d.PaymentMethodID) {
			t.Errorf("%q: read model reason %q, at period end %v, card %s; domain %q, %v, %s", name,
				reason, got.CancelAtPeriodEnd, got.PaymentMethodID, d.CancelReasonView(), d.CancelAtPeriodEnd, d.PaymentMethodID)
		}
	}
}

// decideAll runs the named steps of history on agg, each decision applied
// before the next, and returns the events decided. A step the domain
// refuses is skipped, as the refusal appends nothing.
func decideAll[A interface{ Apply(domain.Event) }](t *testing.T, agg A, steps map[string]func(A) ([]domain.Event, error), history string) []domain.Event {
	t.Helper()
	var out []domain.Event
	for _, step := range strings.Fields(history) {
		decide, ok := steps[step]
		if !ok {
			t.Fatalf("no step %q", step)
		}
		evs, err := decide(agg)
		if err != nil {
			continue
		}
		for _, e := range evs {
			agg.Apply(e)
		}
		out = append(out, evs...)
	}
	return out
}

var dunning = []time.Duration{24 * time.Hour, 72 * time.Hour, 120 * time.Hour}

// inFlight is the renewal attempt s is making.
func inFlight(s *domain.Subscription) domain.SubscriptionRenewalDue {
	return domain.SubscriptionRenewalDue{SubscriptionRef: domain.SubscriptionRef{SubscriptionID: s.ID}, RenewalOrderID: s.Renewing,
		PeriodStart: s.CurrentPeriodEnd, Attempt: s.Attempt, Final: s.Attempt == len(dunning)+1}
}
