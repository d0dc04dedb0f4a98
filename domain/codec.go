package domain

import (
	"encoding/json"
	"fmt"
)

// Encode returns e's stored type name and JSON body. It refuses an event whose
// type is not one of EventTypes, so nothing unreadable reaches the log.
func Encode(e Event) (eventType string, data []byte, err error) {
	if e == nil {
		return "", nil, fmt.Errorf("encode event: nil event")
	}
	eventType = e.EventType()
	if _, err := newEvent(eventType); err != nil {
		return "", nil, fmt.Errorf("encode event: %w", err)
	}
	var ok bool
	switch e := e.(type) { // the log's most common bodies, without reflection (codec_orders.go)
	case OrderPlaced:
		data, ok = appendOrderPlaced(make([]byte, 0, 512), e)
	case OrderPaid:
		data, ok = appendOrderPaid(make([]byte, 0, 320), e)
	}
	if ok {
		return eventType, data, nil
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode event %s: %w", eventType, err)
	}
	return eventType, data, nil
}

// Decode turns a stored body back into its event. Unknown JSON fields are
// ignored, because bodies may gain optional fields and old readers must still
// replay new events; an unknown type name is an error naming it.
func Decode(eventType string, data []byte) (Event, error) {
	decode, err := newEvent(eventType)
	if err != nil {
		return nil, err
	}
	e, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode event %s: %w", eventType, err)
	}
	return e, nil
}

type decoder func(data []byte) (Event, error)

// newEvent is the one explicit map from stored type names to Go types.
func newEvent(eventType string) (decoder, error) {
	switch eventType {
	case EventPlanPublished:
		return decodeAs[PlanPublished], nil
	case EventPlanChanged:
		return decodeAs[PlanChanged], nil
	case EventPlanRetired:
		return decodeAs[PlanRetired], nil
	case EventCustomerCreated:
		return decodeAs[CustomerCreated], nil
	case EventCardSetupStarted:
		return decodeAs[CardSetupStarted], nil
	case EventCardAttached:
		return decodeAs[CardAttached], nil
	case EventCardDetached:
		return decodeAs[CardDetached], nil
	case EventOrderPlaced:
		return decodeOrderPlaced, nil // codec_orders.go
	case EventOrderPaid:
		return decodeOrderPaid, nil
	case EventOrderPaymentFailed:
		return decodeAs[OrderPaymentFailed], nil
	case EventPaymentAttemptFailed:
		return decodeAs[PaymentAttemptFailed], nil
	case EventSubscriptionRenewalDue:
		return decodeAs[SubscriptionRenewalDue], nil
	case EventSubscriptionCardChanged:
		return decodeAs[SubscriptionCardChanged], nil
	case EventCancelScheduled:
		return decodeAs[CancelScheduled], nil
	case EventCancelUnscheduled:
		return decodeAs[CancelUnscheduled], nil
	case EventClockAdvanced:
		return decodeAs[ClockAdvanced], nil
	case EventAuditSealed:
		return decodeAs[AuditSealed], nil
	case EventRefundRequested:
		return decodeAs[RefundRequested], nil
	case EventOrderRefunded:
		return decodeAs[OrderRefunded], nil
	case EventRefundFailed:
		return decodeAs[RefundFailed], nil
	}
	return newSubscriptionEvent(eventType)
}

func newSubscriptionEvent(eventType string) (decoder, error) {
	switch eventType {
	case EventSubscriptionCreated:
		return decodeAs[SubscriptionCreated], nil
	case EventSubscriptionStarted:
		return decodeAs[SubscriptionStarted], nil
	case EventSubscriptionRenewed:
		return decodeAs[SubscriptionRenewed], nil
	case EventSubscriptionPastDue:
		return decodeAs[SubscriptionPastDue], nil
	case EventSubscriptionCancelRequested:
		return decodeAs[SubscriptionCancelRequested], nil
	case EventSubscriptionCanceled:
		return decodeAs[SubscriptionCanceled], nil
	case EventProviderEventReceived:
		return decodeAs[ProviderEventReceived], nil
	}
	return nil, fmt.Errorf("unknown event type %q", eventType)
}

func decodeAs[T Event](data []byte) (Event, error) {
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	return e, nil
}
