package domain

import (
	"time"
)

// SubscriptionStatus is where a subscription is in its life.
type SubscriptionStatus string

// Subscription states. incomplete → active (first order paid) or canceled
// (first payment failed); active ⇄ past_due; any → canceled.
const (
	SubscriptionStatusIncomplete SubscriptionStatus = "incomplete"
	SubscriptionStatusActive     SubscriptionStatus = "active"
	SubscriptionStatusPastDue    SubscriptionStatus = "past_due"
	SubscriptionStatusCanceled   SubscriptionStatus = "canceled"
)

// Reasons a subscription ends, recorded on subscription.cancel_requested and
// subscription.canceled.
const (
	ReasonCustomerRequest    = "customer_request"
	ReasonFirstPaymentFailed = "first_payment_failed"
	ReasonFirstOrderRefunded = "first_order_refunded"
	ReasonProvider           = "provider"
	ReasonPaymentFailed      = "payment_failed" // the last renewal attempt was declined
)

// Subscription is the aggregate of one recurring plan bought by a user, in
// the stream "subscription-<uuid>". OrderID is its first order.
type Subscription struct {
	ID              SubscriptionID
	UserID          string
	PlanID          PlanID
	OrderID         OrderID
	Interval        Interval
	IntervalCount   int
	Price           Money           // what each renewal charges
	PaymentMethodID PaymentMethodID // the card renewals charge
	// ProviderSubscriptionID is the payment provider's id, once started.
	ProviderSubscriptionID string
	Status                 SubscriptionStatus
	CurrentPeriodStart     time.Time // zero until started
	CurrentPeriodEnd       time.Time
	PastDueCode            string
	CanceledAt             time.Time
	CancelReason           string
	CancelRequested        bool // the customer canceled (the API's DELETE)
	CancelAtPeriodEnd      bool // not renewed: canceled at CurrentPeriodEnd
	ProviderCanceled       bool // subscription.canceled is recorded: nothing is left to do
	CreatedAt              time.Time
	// The ledger's renewal in progress (see DueRenewal): its order, the
	// last attempt due, and how many attempts were declined.
	Renewing       OrderID
	Attempt        int
	FailedAttempts int
	RetryAt        time.Time // the next attempt's time while past_due; zero: none
	renewals       map[OrderID]bool
}

// Apply folds one subscription event into s. Events of other aggregates are
// ignored.
func (s *Subscription) Apply(e Event) {
	switch e := e.(type) {
	case SubscriptionCreated:
		*s = Subscription{
			ID: e.SubscriptionID, UserID: e.UserID, PlanID: e.PlanID, OrderID: e.OrderID,
			Interval: e.Interval, IntervalCount: e.IntervalCount,
			Price:           Money{Amount: e.Amount, Currency: e.Currency},
			PaymentMethodID: e.PaymentMethodID, Status: SubscriptionStatusIncomplete, CreatedAt: e.CreatedAt,
		}
	case SubscriptionStarted:
		s.Status, s.CurrentPeriodStart, s.CurrentPeriodEnd = SubscriptionStatusActive, e.CurrentPeriodStart, e.CurrentPeriodEnd
		s.ProviderSubscriptionID = e.ProviderSubscriptionID
	case SubscriptionRenewed:
		if s.renewals == nil {
			s.renewals = make(map[OrderID]bool)
		}
		s.renewals[e.RenewalOrderID] = true
		s.Status, s.CurrentPeriodStart, s.CurrentPeriodEnd = SubscriptionStatusActive, e.CurrentPeriodStart, e.CurrentPeriodEnd
		s.PastDueCode, s.Renewing, s.Attempt, s.FailedAttempts, s.RetryAt = "", "", 0, 0, time.Time{}
	case SubscriptionRenewalDue:
		s.Renewing, s.Attempt = e.RenewalOrderID, e.Attempt
	case SubscriptionPastDue:
		s.Status, s.PastDueCode, s.RetryAt = SubscriptionStatusPastDue, e.FailureCode, e.RetryAt
		s.FailedAttempts = max(s.FailedAttempts, e.Attempt)
	case SubscriptionCardChanged:
		s.PaymentMethodID = e.PaymentMethodID
		if s.Status == SubscriptionStatusPastDue {
			s.RetryAt = e.ChangedAt // the unpaid renewal is retried with the new card at once
		}
	case CancelScheduled:
		s.CancelAtPeriodEnd = true
	case CancelUnscheduled:
		s.CancelAtPeriodEnd = false
	case SubscriptionCancelRequested:
		s.Status, s.CancelRequested, s.CanceledAt, s.CancelReason = SubscriptionStatusCanceled, true, e.RequestedAt, e.Reason
	case SubscriptionCanceled:
		s.applyCanceled(e)
	}
}

func (s *Subscription) applyCanceled(e SubscriptionCanceled) {
	s.Status, s.ProviderCanceled = SubscriptionStatusCanceled, true
	if s.CanceledAt.IsZero() {
		s.CanceledAt = e.CanceledAt
	}
	if s.CancelReason == "" {
		s.CancelReason = e.Reason
	}
}

// Renewed reports whether order already renewed s.
func (s *Subscription) Renewed(order OrderID) bool { return s.renewals[order] }

// Start records that the first order was paid: the first period runs from
// periodStart for one interval. providerSubscriptionID is the payment
// provider's id for it (needed to cancel or renew there; may be empty). It
// returns no events when s already started (active or past_due), and
// ErrInvalidTransition when s was never created or is canceled.
func (s *Subscription) Start(periodStart time.Time, providerSubscriptionID string, now time.Time) ([]Event, error) {
	switch s.Status {
	case SubscriptionStatusIncomplete:
		start := periodStart.UTC()
		return []Event{SubscriptionStarted{
			SubscriptionRef: s.ref(), CurrentPeriodStart: start,
			CurrentPeriodEnd:       AddInterval(start, s.Interval, s.IntervalCount),
			ProviderSubscriptionID: providerSubscriptionID,
		}}, nil
	case SubscriptionStatusActive, SubscriptionStatusPastDue:
		return nil, nil
	}
	return nil, s.contradiction("cannot start")
}

// Renew records that renewalOrder paid the period from periodStart to
// periodEnd (zero: one interval later, as the ledger bills; a provider
// billing by itself says its own). It returns no events when renewalOrder
// already renewed s, ErrValidation for a malformed order id or an end not
// after the start, and ErrInvalidTransition unless s is active or past_due.
func (s *Subscription) Renew(renewalOrder OrderID, periodStart, periodEnd, now time.Time) ([]Event, error) {
	if _, err := ParseOrderID(string(renewalOrder)); err != nil {
		return nil, err
	}
	if s.Renewed(renewalOrder) {
		return nil, nil
	}
	if s.Status != SubscriptionStatusActive && s.Status != SubscriptionStatusPastDue {
		return nil, s.contradiction("cannot renew")
	}
	start, end := periodStart.UTC(), periodEnd.UTC()
	if periodEnd.IsZero() {
		end = AddInterval(start, s.Interval, s.IntervalCount)
	}
	if !end.After(start) {
		return nil, Invalid("current_period_end", "a period ends after it starts")
	}
	return []Event{SubscriptionRenewed{
		SubscriptionRef: s.ref(), RenewalOrderID: renewalOrder, CurrentPeriodStart: start, CurrentPeriodEnd: end,
	}}, nil
}

// MarkPastDue records that a renewal payment failed with code. It returns no
// events when s is already past_due, ErrValidation for an empty code, and
// ErrInvalidTransition unless s is active.
func (s *Subscription) MarkPastDue(code string, now time.Time) ([]Event, error) {
	if code == "" {
		return nil, Invalid("failure_code", "failure_code is required")
	}
	switch s.Status {
	case SubscriptionStatusActive:
		return []Event{SubscriptionPastDue{SubscriptionRef: s.ref(), FailureCode: code, At: now.UTC()}}, nil
	case SubscriptionStatusPastDue:
		return nil, nil
	}
	return nil, s.contradiction("cannot become past_due")
}

// RequestCancel cancels s at once (status canceled, canceled_at now); the
// provider's side is confirmed later with ConfirmCanceled. It returns no
// events when s is already canceled (so a repeated DELETE changes nothing),
// ErrValidation for an empty reason, and ErrInvalidTransition when s was
// never created.
func (s *Subscription) RequestCancel(reason string, now time.Time) ([]Event, error) {
	if reason == "" {
		return nil, Invalid("reason", "reason is required")
	}
	switch s.Status {
	case SubscriptionStatusIncomplete, SubscriptionStatusActive, SubscriptionStatusPastDue:
		return []Event{SubscriptionCancelRequested{SubscriptionRef: s.ref(), Reason: reason, RequestedAt: now.UTC()}}, nil
	case SubscriptionStatusCanceled:
		return nil, nil
	}
	return nil, s.contradiction("cannot be canceled")
}

// ConfirmCanceled records that s ended for good: the provider confirmed a
// requested cancellation (ReasonProvider or the request's reason), or s ended
// without provider work (ReasonFirstPaymentFailed, ReasonFirstOrderRefunded).
// It returns no events when that is already recorded, ErrValidation for an
// empty reason, and ErrInvalidTransition when s was never created.
func (s *Subscription) ConfirmCanceled(reason string, now time.Time) ([]Event, error) {
	if reason == "" {
		return nil, Invalid("reason", "reason is required")
	}
	if s.Status == "" {
		return nil, s.contradiction("cannot be canceled")
	}
	if s.ProviderCanceled {
		return nil, nil
	}
	return []Event{SubscriptionCanceled{SubscriptionRef: s.ref(), Reason: reason, CanceledAt: now.UTC()}}, nil
}

func (s *Subscription) ref() SubscriptionRef {
	return SubscriptionRef{SubscriptionID: s.ID, UserID: s.UserID, PlanID: s.PlanID, OrderID: s.OrderID}
}

func (s *Subscription) contradiction(what string) error {
	status := string(s.Status)
	if status == "" {
		status = "not created"
	}
	return refuse(ErrInvalidTransition, "", "subscription %s (%s) %s", s.ID, status, what)
}

// CancelReasonView is the reason an API client sees (cancel_reason):
// "requested" for an end someone asked for (the user, a refund of the
// first order, the provider), "payment_failed" when payments failed; empty
// while not canceled.
func (s *Subscription) CancelReasonView() string {
	if s.Status != SubscriptionStatusCanceled {
		return ""
	}
	return CancelReasonView(s.CancelReason)
}

// CancelReasonView maps a recorded reason to the API's cancel_reason.
func CancelReasonView(reason string) string {
	if reason == ReasonPaymentFailed || reason == ReasonFirstPaymentFailed {
		return "payment_failed"
	}
	return "requested"
}

// ScheduleCancel ends s at its current period's end instead of renewing
// it. It returns no events when that is scheduled already, and
// ErrSubscriptionCanceled once s has ended (ErrInvalidTransition before
// it started: there is no period to end).
func (s *Subscription) ScheduleCancel(now time.Time) ([]Event, error) {
	switch {
	case s.Status == SubscriptionStatusCanceled:
		return nil, refuse(ErrSubscriptionCanceled, "", "subscription %s is canceled", s.ID)
	case !s.Live():
		return nil, s.contradiction("has no period to end")
	case s.CancelAtPeriodEnd:
		return nil, nil
	}
	return []Event{CancelScheduled{SubscriptionRef: s.ref(), ScheduledAt: now.UTC()}}, nil
}

// UnscheduleCancel takes back a scheduled cancellation. It returns no
// events when none is scheduled, and ErrSubscriptionCanceled once s has
// ended.
func (s *Subscription) UnscheduleCancel(now time.Time) ([]Event, error) {
	switch {
	case s.Status == SubscriptionStatusCanceled:
		return nil, refuse(ErrSubscriptionCanceled, "", "subscription %s is canceled", s.ID)
	case !s.CancelAtPeriodEnd:
		return nil, nil
	}
	return []Event{CancelUnscheduled{SubscriptionRef: s.ref(), UnscheduledAt: now.UTC()}}, nil
}

// ChangeCard makes pm, one of wallet's saved cards, the card s renews
// on; while past_due its unpaid renewal is then retried at once. It
// returns no events for the card s has, ErrPaymentMethodNotFound for a
// card the wallet does not have, and ErrSubscriptionCanceled once s has
// ended.
func (s *Subscription) ChangeCard(pm PaymentMethodID, wallet *Wallet, now time.Time) ([]Event, error) {
	switch {
	case s.Status == SubscriptionStatusCanceled:
		return nil, refuse(ErrSubscriptionCanceled, "", "subscription %s is canceled", s.ID)
	case !wallet.HasCard(pm):
		return nil, refuse(ErrPaymentMethodNotFound, "payment_method_id", "payment method %s not found", pm)
	case pm == s.PaymentMethodID:
		return nil, nil
	}
	return []Event{SubscriptionCardChanged{SubscriptionRef: s.ref(), PaymentMethodID: pm, ChangedAt: now.UTC()}}, nil
}
