package domain

// Event is a fact recorded in the log. EventType is its stored type name, a
// string constant (never derived by reflection, so renaming a struct cannot
// change history); StreamID is the stream it belongs to, derived from the ids
// it carries.
type Event interface {
	EventType() string
	StreamID() string
}

// Stored event type names: "<aggregate>.<event>" in lower snake case. They are
// written into the log and are the NATS subjects' suffixes, so they NEVER
// change once shipped. A new meaning gets a new name; a body may only gain
// optional fields.
const (
	EventPlanPublished = "catalog.plan_published"
	EventPlanChanged   = "catalog.plan_changed"
	EventPlanRetired   = "catalog.plan_retired"

	EventCustomerCreated  = "wallet.customer_created"
	EventCardSetupStarted = "wallet.card_setup_started"
	EventCardAttached     = "wallet.card_attached"
	EventCardDetached     = "wallet.card_detached"

	EventOrderPlaced        = "order.placed"
	EventOrderPaid          = "order.paid"
	EventOrderPaymentFailed = "order.payment_failed"
	EventRefundRequested    = "order.refund_requested"
	EventOrderRefunded      = "order.refunded"
	EventRefundFailed       = "order.refund_failed"
	// A renewal's charge was declined; retries follow (dunning).
	EventPaymentAttemptFailed = "order.payment_attempt_failed"

	EventSubscriptionCreated         = "subscription.created"
	EventSubscriptionStarted         = "subscription.started"
	EventSubscriptionRenewed         = "subscription.renewed"
	EventSubscriptionPastDue         = "subscription.past_due"
	EventSubscriptionCancelRequested = "subscription.cancel_requested"
	EventSubscriptionCanceled        = "subscription.canceled"
	EventSubscriptionRenewalDue      = "subscription.renewal_due"
	EventSubscriptionCardChanged     = "subscription.card_changed"
	EventCancelScheduled             = "subscription.cancel_scheduled"
	EventCancelUnscheduled           = "subscription.cancel_unscheduled"
)

// EventTypes lists every stored event type, grouped by aggregate.
func EventTypes() []string {
	return []string{
		EventPlanPublished, EventPlanChanged, EventPlanRetired,
		EventCustomerCreated, EventCardSetupStarted, EventCardAttached, EventCardDetached,
		EventOrderPlaced, EventOrderPaid, EventOrderPaymentFailed,
		EventRefundRequested, EventOrderRefunded, EventRefundFailed, EventPaymentAttemptFailed,
		EventSubscriptionCreated, EventSubscriptionStarted, EventSubscriptionRenewalDue, EventSubscriptionRenewed,
		EventSubscriptionPastDue, EventSubscriptionCardChanged, EventCancelScheduled, EventCancelUnscheduled,
		EventSubscriptionCancelRequested, EventSubscriptionCanceled,
		EventProviderEventReceived,
		EventClockAdvanced,
		EventAuditSealed,
	}
}
