package stripe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robotlabor/billing/payments"
	stripego "github.com/stripe/stripe-go/v76"
)

// Charge confirms an off-session PaymentIntent on the customer's saved card.
func (s *Stripe) Charge(ctx context.Context, c payments.Charge) (payments.ChargeResult, error) {
	p := &stripego.PaymentIntentParams{
		Params:        params(ctx, c.IdempotencyKey),
		Amount:        stripego.Int64(c.Amount),
		Currency:      stripego.String(c.Currency),
		Customer:      stripego.String(c.CustomerID),
		PaymentMethod: stripego.String(c.PaymentMethodID),
		OffSession:    stripego.Bool(true),
		Confirm:       stripego.Bool(true),
	}
	p.AddMetadata("order_id", c.OrderID)
	pi, err := s.api.PaymentIntents.New(p)
	if res, declined := declineOf(err); declined {
		return res, nil
	}
	if cardGone(err) {
		return payments.ChargeResult{Status: payments.Failed, FailureCode: "payment_method_not_found",
			FailureMessage: "the card is no longer attached at Stripe"}, nil
	}
	if err != nil {
		return payments.ChargeResult{}, fail("create payment intent", err)
	}
	return s.settle(ctx, pi, "cancel_"+c.IdempotencyKey)
}

// settle reads a PaymentIntent to its outcome. One still processing is
// read again: a retry with the same key replays the first answer, the
// PaymentIntent itself says whether it has settled since. One that
// requires action (authentication) is canceled, keyed by cancelKey: an
// off-session payment cannot ask the customer, and a PaymentIntent left
// open could still be completed (the customer authenticating from Stripe's
// email) and take money the ledger records as declined.
func (s *Stripe) settle(ctx context.Context, pi *stripego.PaymentIntent, cancelKey string) (payments.ChargeResult, error) {
	switch pi.Status {
	case stripego.PaymentIntentStatusProcessing:
		read, err := s.api.PaymentIntents.Get(pi.ID, &stripego.PaymentIntentParams{Params: stripego.Params{Context: ctx}})
		if err != nil {
			return payments.ChargeResult{}, fail("read payment intent", err)
		}
		return intentResult(read)
	case stripego.PaymentIntentStatusRequiresAction:
		return s.cancelIntent(ctx, pi.ID, cancelKey)
	}
	return intentResult(pi)
}

// authenticationRequired is the decline of a payment canceled because the
// card asked for authentication.
func authenticationRequired(id string) payments.ChargeResult {
	return payments.ChargeResult{Status: payments.Failed, ProviderPaymentID: id, FailureCode: "authentication_required",
		FailureMessage: "the card requires authentication, which an off-session payment cannot ask for"}
}

// cancelIntent cancels a PaymentIntent that requires action. Refused, it
// may have settled meanwhile (the customer authenticated): its status
// then tells; still open, the outcome is unknown and the caller retries.
func (s *Stripe) cancelIntent(ctx context.Context, id, key string) (payments.ChargeResult, error) {
	_, err := s.api.PaymentIntents.Cancel(id, &stripego.PaymentIntentCancelParams{Params: params(ctx, key), CancellationReason: stripego.String("abandoned")})
	if err == nil {
		return authenticationRequired(id), nil
	}
	pi, gerr := s.api.PaymentIntents.Get(id, &stripego.PaymentIntentParams{Params: stripego.Params{Context: ctx}})
	switch {
	case gerr != nil:
		return payments.ChargeResult{}, fail("read payment intent", gerr)
	case pi.Status == stripego.PaymentIntentStatusCanceled:
		return authenticationRequired(id), nil
	case pi.Status == stripego.PaymentIntentStatusSucceeded:
		return intentResult(pi)
	}
	return payments.ChargeResult{}, fmt.Errorf("stripe: cancel payment intent %s (%s): %v", id, pi.Status, err)
}

// declineOf turns a card error into a Failed result with Stripe's decline
// code (insufficient_funds, …) or error code (card_declined, expired_card).
func declineOf(err error) (payments.ChargeResult, bool) {
	var se *stripego.Error
	if !errors.As(err, &se) || se.Type != stripego.ErrorTypeCard {
		return payments.ChargeResult{}, false
	}
	code := string(se.DeclineCode)
	if code == "" || code == "generic_decline" {
		code = string(se.Code)
	}
	if code == "" {
		code = payments.CodeCardDeclined
	}
	res := payments.ChargeResult{Status: payments.Failed, FailureCode: code, FailureMessage: se.Msg}
	if se.PaymentIntent != nil {
		res.ProviderPaymentID = se.PaymentIntent.ID
	}
	return res, true
}

// cardGone: Stripe refuses the payment method itself (detached, deleted):
// a definite decline of this order, not a request to fix.
func cardGone(err error) bool {
	var se *stripego.Error
	return errors.As(err, &se) && se.Type == stripego.ErrorTypeInvalidRequest && se.Param == "payment_method"
}

// intentResult maps a settled PaymentIntent's status (see settle).
// processing has no outcome yet, nor has requires_action until canceled:
// an unknown outcome, retried with the same key until Stripe (or the
// webhook) tells.
func intentResult(pi *stripego.PaymentIntent) (payments.ChargeResult, error) {
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		return payments.ChargeResult{Status: payments.Succeeded, ProviderPaymentID: pi.ID}, nil
	case stripego.PaymentIntentStatusRequiresPaymentMethod, stripego.PaymentIntentStatusCanceled:
		code, msg := payments.CodeCardDeclined, "the card was declined"
		if e := pi.LastPaymentError; e != nil {
			if e.DeclineCode != "" {
				code = string(e.DeclineCode)
			} else if e.Code != "" {
				code = string(e.Code)
			}
			msg = e.Msg
		}
		return payments.ChargeResult{Status: payments.Failed, ProviderPaymentID: pi.ID, FailureCode: code, FailureMessage: msg}, nil
	}
	return payments.ChargeResult{}, errors.New("stripe: payment intent " + pi.ID + " is " + string(pi.Status) + ": outcome not known yet")
}

// Refund refunds a payment in full.
func (s *Stripe) Refund(ctx context.Context, r payments.Refund) (payments.RefundResult, error) {
	p := &stripego.RefundParams{Params: params(ctx, r.IdempotencyKey), PaymentIntent: stripego.String(r.ProviderPaymentID)}
	p.AddMetadata("order_id", r.OrderID)
	re, err := s.api.Refunds.New(p)
	if err != nil {
		return payments.RefundResult{}, fail("create refund", err)
	}
	if refundResult(re).Status == payments.Pending {
		// As for charges: the replayed answer is the first one; the refund
		// says where it stands now.
		if re, err = s.api.Refunds.Get(re.ID, &stripego.RefundParams{Params: stripego.Params{Context: ctx}}); err != nil {
			return payments.RefundResult{}, fail("read refund", err)
		}
	}
	return refundResult(re), nil
}

func refundResult(re *stripego.Refund) payments.RefundResult {
	switch re.Status {
	case stripego.RefundStatusSucceeded:
		return payments.RefundResult{Status: payments.Succeeded, ProviderRefundID: re.ID}
	case stripego.RefundStatusFailed, stripego.RefundStatusCanceled:
		return payments.RefundResult{Status: payments.Failed, ProviderRefundID: re.ID, FailureCode: string(re.FailureReason)}
	}
	return payments.RefundResult{Status: payments.Pending, ProviderRefundID: re.ID}
}

// StartSubscription subscribes the customer to the plan's Stripe price with
// the card as default payment method; the first invoice must be paid at
// once (error_if_incomplete), so a decline is a Failed first payment.
func (s *Stripe) StartSubscription(ctx context.Context, st payments.StartSubscription) (payments.SubscriptionResult, error) {
	price, err := s.price(ctx, st.PriceRef)
	if err != nil {
		return payments.SubscriptionResult{}, err
	}
	p := &stripego.SubscriptionParams{
		Params:               params(ctx, st.IdempotencyKey),
		Customer:             stripego.String(st.CustomerID),
		Items:                []*stripego.SubscriptionItemsParams{{Price: stripego.String(price)}},
		DefaultPaymentMethod: stripego.String(st.PaymentMethodID),
		OffSession:           stripego.Bool(true),
		PaymentBehavior:      stripego.String("error_if_incomplete"),
	}
	p.AddMetadata("subscription_id", st.SubscriptionID)
	p.AddMetadata("order_id", st.OrderID)
	p.AddExpand("latest_invoice.payment_intent")
	sub, err := s.api.Subscriptions.New(p)
	if res, declined := declineOf(err); declined {
		return payments.SubscriptionResult{FirstPayment: res}, nil
	}
	if err != nil {
		return payments.SubscriptionResult{}, fail("create subscription", err)
	}
	return subscriptionResult(sub), nil
}

// subscriptionResult maps a subscription created with error_if_incomplete
// (its latest invoice and PaymentIntent expanded) to its first payment.
func subscriptionResult(sub *stripego.Subscription) payments.SubscriptionResult {
	first := payments.ChargeResult{Status: payments.Succeeded}
	if inv := sub.LatestInvoice; inv != nil {
		first.ProviderPaymentID = inv.ID
		if inv.PaymentIntent != nil {
			first.ProviderPaymentID = inv.PaymentIntent.ID
		}
	}
	if sub.Status != stripego.SubscriptionStatusActive && sub.Status != stripego.SubscriptionStatusTrialing {
		first = payments.ChargeResult{Status: payments.Failed, ProviderPaymentID: first.ProviderPaymentID, FailureCode: payments.CodeCardDeclined}
	}
	return payments.SubscriptionResult{
		ProviderSubscriptionID: sub.ID, FirstPayment: first,
		PeriodStart: unix(sub.CurrentPeriodStart), PeriodEnd: unix(sub.CurrentPeriodEnd),
	}
}

// UpdateSubscription sets cancel_at_period_end and/or the default payment
// method of a subscription, so Stripe bills (or stops billing) as the
// ledger says.
func (s *Stripe) UpdateSubscription(ctx context.Context, u payments.UpdateSubscription) error {
	p := &stripego.SubscriptionParams{Params: params(ctx, u.IdempotencyKey)}
	if u.CancelAtPeriodEnd != nil {
		p.CancelAtPeriodEnd = stripego.Bool(*u.CancelAtPeriodEnd)
	}
	if u.PaymentMethodID != "" {
		p.DefaultPaymentMethod = stripego.String(u.PaymentMethodID)
	}
	if _, err := s.api.Subscriptions.Update(u.ProviderSubscriptionID, p); err != nil {
		return fail("update subscription", err)
	}
	return nil
}

// CancelSubscription ends the subscription now.
func (s *Stripe) CancelSubscription(ctx context.Context, c payments.CancelSubscription) error {
	_, err := s.api.Subscriptions.Cancel(c.ProviderSubscriptionID, &stripego.SubscriptionCancelParams{Params: params(ctx, c.IdempotencyKey)})
	if err != nil {
		return fail("cancel subscription", err)
	}
	return nil
}

// Price reads a plan's price at Stripe (a price id or a lookup key), so
// that serve can check the ledger sells what Stripe will bill.
func (s *Stripe) Price(ctx context.Context, ref string) (payments.Price, error) {
	id, err := s.price(ctx, ref)
	if err != nil {
		return payments.Price{}, err
	}
	p, err := s.api.Prices.Get(id, &stripego.PriceParams{Params: stripego.Params{Context: ctx}})
	if err != nil {
		return payments.Price{}, fail("read price "+ref, err)
	}
	out := payments.Price{Amount: p.UnitAmount, Currency: string(p.Currency)}
	if p.Recurring != nil {
		out.Interval, out.IntervalCount = string(p.Recurring.Interval), int(p.Recurring.IntervalCount)
	}
	return out, nil
}

// price resolves a plan's price reference: a price id (price_…) as is, or a
// lookup key, resolved once.
func (s *Stripe) price(ctx context.Context, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("stripe: the plan has no Stripe price (set provider_price in the plans file): %w", payments.ErrInvalidRequest)
	}
	if len(ref) > 6 && ref[:6] == "price_" {
		return ref, nil
	}
	s.mu.Lock()
	id, ok := s.prices[ref]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	it := s.api.Prices.List(&stripego.PriceListParams{ListParams: stripego.ListParams{Context: ctx}, LookupKeys: stripego.StringSlice([]string{ref})})
	for it.Next() {
		id = it.Price().ID
		break
	}
	if err := it.Err(); err != nil {
		return "", fail("look up price "+ref, err)
	}
	if id == "" {
		return "", fmt.Errorf("stripe: no price has lookup key %s: %w", ref, payments.ErrInvalidRequest)
	}
	s.mu.Lock()
	s.prices[ref] = id
	s.mu.Unlock()
	return id, nil
}

func unix(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
