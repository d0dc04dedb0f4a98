package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

// Replaying the same events, as a rebuild does, yields the same state.
func TestReplayYieldsTheSameState(t *testing.T) {
	orderEvents := []domain.Event{placed(), paid(), refundRequested(), refundFailed(), refundRequested(), refunded()}
	subEvents := []domain.Event{subCreated(), subStarted(), subPastDue(), subRenewed(), cancelRequested(), subCanceled(domain.ReasonProvider)}
	walletEvents := []domain.Event{
		domain.CustomerCreated{UserID: alice, Provider: "sandbox", CustomerID: "cus_1", CreatedAt: clock()},
		setupStarted(alice), cardAttached(alice),
		domain.CardDetached{UserID: alice, PaymentMethodID: card(), DetachedAt: later(time.Hour)},
	}
	catalogEvents := []domain.Event{
		domain.PlanPublished{Plan: fixedPlan()}, domain.PlanPublished{Plan: customPlan()},
		domain.PlanChanged{Plan: fixedPlan()}, domain.PlanRetired{PlanID: customPlan().ID},
	}
	tests := []struct {
		name  string
		build func() any
	}{
		{"order", func() any { return orderOf(orderEvents...) }},
		{"subscription", func() any { return subscriptionOf(subEvents...) }},
		{"wallet", func() any { return walletOf(alice, walletEvents...) }},
		{"catalog", func() any { return catalogOf(catalogEvents...) }},
		{"decoded order", func() any { return orderOf(decodeAll(t, orderEvents)...) }},
		{"decoded subscription", func() any { return subscriptionOf(decodeAll(t, subEvents)...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if first, second := tt.build(), tt.build(); !reflect.DeepEqual(first, second) {
				t.Errorf("two replays differ:\n%+v\n%+v", first, second)
			}
		})
	}
	if got, want := orderOf(decodeAll(t, orderEvents)...), orderOf(orderEvents...); !reflect.DeepEqual(got, want) {
		t.Errorf("replay from stored bodies differs:\n got %+v\nwant %+v", got, want)
	}
}

// Events of other aggregates leave an aggregate unchanged, so a reader may
// fold a mixed feed.
func TestApplyIgnoresOtherAggregates(t *testing.T) {
	o := orderOf(placed())
	want := *o
	for _, e := range everyEvent() {
		if e.StreamID() != o.ID.Stream() {
			o.Apply(e)
		}
	}
	if *o != want {
		t.Errorf("foreign events changed the order: %+v", *o)
	}
}

func decodeAll(t *testing.T, events []domain.Event) []domain.Event {
	t.Helper()
	out := make([]domain.Event, 0, len(events))
	for _, e := range events {
		typ, data, err := domain.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := domain.Decode(typ, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}
