package stripe

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/robotlabor/billing/payments"
	stripego "github.com/stripe/stripe-go/v76"
)

// Interpret reads a recorded Stripe event for the ledger. It calls Stripe
// where the event alone does not say enough: the card behind a completed
// setup session, the order behind a refund made in the dashboard. Events
// of other types, or about objects the ledger did not create, are
// NoticeNone.
func (s *Stripe) Interpret(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	switch ev.Type {
	case "checkout.session.completed":
		return s.setupCompleted(ctx, ev)
	case "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripego.PaymentIntent
		if err := decode(ev, &pi); err != nil {
			return payments.Notice{}, err
		}
		order := pi.Metadata["order_id"]
		if order == "" {
			return payments.Notice{}, nil // a subscription invoice's payment: invoice events tell
		}
		if ev.Type == "payment_intent.succeeded" {
			return payments.Notice{Kind: payments.NoticePaymentSucceeded, OrderID: order, ProviderPaymentID: pi.ID}, nil
		}
		res, _ := intentResult(&pi)
		if res.FailureCode == "" {
			res.FailureCode = payments.CodeCardDeclined // failed, whatever its status says now
		}
		return payments.Notice{Kind: payments.NoticePaymentFailed, OrderID: order, ProviderPaymentID: pi.ID,
			FailureCode: res.FailureCode, FailureMessage: res.FailureMessage}, nil
	case "charge.refunded":
		return s.chargeRefunded(ctx, ev)
	case "refund.updated", "refund.created":
		return s.refundChanged(ctx, ev)
	case "customer.subscription.deleted", "customer.subscription.updated":
		return subscriptionChanged(ev)
	case "invoice.paid", "invoice.payment_failed":
		return invoiceSettled(ev)
	case "payment_method.detached":
		return s.cardDetached(ctx, ev)
	}
	return payments.Notice{}, nil
}

// subscriptionChanged: ended (deleted, or canceled by Stripe), or gone
// past due after failed renewals.
func subscriptionChanged(ev payments.ProviderEvent) (payments.Notice, error) {
	var sub stripego.Subscription
	if err := decode(ev, &sub); err != nil {
		return payments.Notice{}, err
	}
	n := payments.Notice{SubscriptionID: sub.Metadata["subscription_id"], ProviderSubscriptionID: sub.ID}
	switch {
	case n.SubscriptionID == "":
	case ev.Type == "customer.subscription.deleted" || sub.Status == stripego.SubscriptionStatusCanceled:
		n.Kind = payments.NoticeSubscriptionEnded
		n.PaymentFailed = sub.CancellationDetails != nil && sub.CancellationDetails.Reason == stripego.SubscriptionCancellationDetailsReasonPaymentFailed
	case sub.Status == stripego.SubscriptionStatusPastDue || sub.Status == stripego.SubscriptionStatusUnpaid:
		n.Kind, n.FailureCode = payments.NoticeSubscriptionPastDue, "renewal_payment_failed"
	case changed(ev, "cancel_at_period_end"):
		// Scheduled or taken back in Stripe's dashboard or portal (or
		// by the ledger's own update, which this confirms).
		n.Kind, n.CancelAtPeriodEnd = payments.NoticeCancelAtPeriodEnd, sub.CancelAtPeriodEnd
	}
	return n, nil
}

// invoiceSettled: a renewal invoice (billing_reason subscription_cycle)
// was paid, or its payment failed. The first invoice is the first order's,
// which the ledger charged itself.
func invoiceSettled(ev payments.ProviderEvent) (payments.Notice, error) {
	var inv stripego.Invoice
	if err := decode(ev, &inv); err != nil {
		return payments.Notice{}, err
	}
	if inv.BillingReason != stripego.InvoiceBillingReasonSubscriptionCycle || inv.SubscriptionDetails == nil {
		return payments.Notice{}, nil
	}
	n := payments.Notice{SubscriptionID: inv.SubscriptionDetails.Metadata["subscription_id"]}
	if inv.Subscription != nil {
		n.ProviderSubscriptionID = inv.Subscription.ID
	}
	if n.SubscriptionID == "" {
		return payments.Notice{}, nil
	}
	if ev.Type == "invoice.payment_failed" {
		n.Kind, n.FailureCode = payments.NoticeSubscriptionPastDue, "renewal_payment_failed"
		return n, nil
	}
	// What Stripe charged, as it charged it: the amount paid, the
	// currency and the subscription line's period, not the plan's price.
	n.Kind, n.ProviderPaymentID, n.InvoiceID = payments.NoticeSubscriptionRenewed, inv.ID, inv.ID
	n.Amount, n.Currency = inv.AmountPaid, string(inv.Currency)
	if inv.PaymentIntent != nil {
		n.ProviderPaymentID = inv.PaymentIntent.ID
	}
	if inv.Lines != nil {
		for _, line := range inv.Lines.Data {
			if line.Type == stripego.InvoiceLineItemTypeSubscription && line.Period != nil {
				n.PeriodStart, n.PeriodEnd = unix(line.Period.Start), unix(line.Period.End)
				break
			}
		}
	}
	return n, nil
}

// cardDetached: a card was removed from a customer (in the dashboard, or
// by the customer portal); the customer it belonged to says whose.
func (s *Stripe) cardDetached(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	var pm stripego.PaymentMethod
	if err := decode(ev, &pm); err != nil {
		return payments.Notice{}, err
	}
	var prev struct {
		Customer string `json:"customer"`
	}
	_ = json.Unmarshal(ev.PreviousAttributes, &prev) // absent: no owner to tell
	if prev.Customer == "" {
		return payments.Notice{}, nil
	}
	c, err := s.api.Customers.Get(prev.Customer, &stripego.CustomerParams{Params: stripego.Params{Context: ctx}})
	if err != nil {
		return payments.Notice{}, fail("read customer", err)
	}
	if c.Metadata["user_id"] == "" {
		return payments.Notice{}, nil
	}
	return payments.Notice{Kind: payments.NoticeCardDetached, UserID: c.Metadata["user_id"], ProviderPaymentMethodID: pm.ID}, nil
}

func decode(ev payments.ProviderEvent, into any) error {
	if err := json.Unmarshal(ev.Object, into); err != nil {
		return fmt.Errorf("stripe event %s (%s): %w: %v", ev.ID, ev.Type, payments.ErrInvalidRequest, err)
	}
	return nil
}

// setupCompleted: a Checkout Session in setup mode completed; its
// SetupIntent holds the saved card.
func (s *Stripe) setupCompleted(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	var cs stripego.CheckoutSession
	if err := decode(ev, &cs); err != nil {
		return payments.Notice{}, err
	}
	session := cs.Metadata["session_id"]
	if cs.Mode != stripego.CheckoutSessionModeSetup || cs.SetupIntent == nil || session == "" {
		return payments.Notice{}, nil
	}
	p := &stripego.SetupIntentParams{Params: stripego.Params{Context: ctx}}
	p.AddExpand("payment_method")
	si, err := s.api.SetupIntents.Get(cs.SetupIntent.ID, p)
	if err != nil {
		return payments.Notice{}, fail("read setup intent", err)
	}
	if si.PaymentMethod == nil || si.PaymentMethod.Card == nil {
		return payments.Notice{}, fmt.Errorf("stripe: setup intent %s has no card: %w", si.ID, payments.ErrInvalidRequest)
	}
	card := si.PaymentMethod.Card
	customer := ""
	if cs.Customer != nil {
		customer = cs.Customer.ID
	}
	return payments.Notice{Kind: payments.NoticeSetupCompleted, Setup: payments.SetupCompleted{
		ProviderEventID: ev.ID, ProviderSessionID: cs.ID, SessionID: session, UserID: cs.Metadata["user_id"], CustomerID: customer,
		CompletedAt: ev.Created,
		Card: payments.Card{ProviderPaymentMethodID: si.PaymentMethod.ID, Brand: string(card.Brand), Last4: card.Last4,
			ExpMonth: int(card.ExpMonth), ExpYear: int(card.ExpYear)},
	}}, nil
}

// chargeRefunded: a charge was refunded, by the ledger's request or in the
// dashboard. Only full refunds are orders' refunds.
func (s *Stripe) chargeRefunded(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	var ch stripego.Charge
	if err := decode(ev, &ch); err != nil {
		return payments.Notice{}, err
	}
	if !ch.Refunded || ch.PaymentIntent == nil {
		return payments.Notice{}, nil // partial refunds are not the ledger's
	}
	order, err := s.orderOf(ctx, ch.PaymentIntent.ID, ch.Metadata)
	if err != nil || order == "" {
		return payments.Notice{}, err
	}
	refund := "ch_refunded:" + ch.ID
	if ch.Refunds != nil && len(ch.Refunds.Data) > 0 {
		refund = ch.Refunds.Data[0].ID
	}
	return payments.Notice{Kind: payments.NoticeRefundSucceeded, OrderID: order, ProviderPaymentID: ch.PaymentIntent.ID, ProviderRefundID: refund, Amount: ch.AmountRefunded}, nil
}

func (s *Stripe) refundChanged(ctx context.Context, ev payments.ProviderEvent) (payments.Notice, error) {
	var re stripego.Refund
	if err := decode(ev, &re); err != nil {
		return payments.Notice{}, err
	}
	res := refundResult(&re)
	if res.Status == payments.Pending || re.PaymentIntent == nil {
		return payments.Notice{}, nil
	}
	order, err := s.orderOf(ctx, re.PaymentIntent.ID, re.Metadata)
	if err != nil || order == "" {
		return payments.Notice{}, err
	}
	n := payments.Notice{Kind: payments.NoticeRefundSucceeded, OrderID: order, ProviderPaymentID: re.PaymentIntent.ID, ProviderRefundID: re.ID, Amount: re.Amount}
	if res.Status == payments.Failed {
		n.Kind, n.FailureCode = payments.NoticeRefundFailed, res.FailureCode
	}
	return n, nil
}

// orderOf finds the ledger order of a payment: in the object's metadata
// (refunds the ledger made), else on the PaymentIntent (dashboard refunds).
func (s *Stripe) orderOf(ctx context.Context, paymentIntent string, meta map[string]string) (string, error) {
	if order := meta["order_id"]; order != "" {
		return order, nil
	}
	pi, err := s.api.PaymentIntents.Get(paymentIntent, &stripego.PaymentIntentParams{Params: stripego.Params{Context: ctx}})
	if err != nil {
		return "", fail("read payment intent", err)
	}
	return pi.Metadata["order_id"], nil
}

// changed reports whether an *.updated event's previous attributes name
// field: it changed.
func changed(ev payments.ProviderEvent, field string) bool {
	var prev map[string]json.RawMessage
	if json.Unmarshal(ev.PreviousAttributes, &prev) != nil {
		return false
	}
	_, ok := prev[field]
	return ok
}
