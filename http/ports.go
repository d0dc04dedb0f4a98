package http

import (
	"context"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/projections"
)

// Commands is the command side the API drives (package app).
type Commands interface {
	StartCardSetup(ctx context.Context, userID, returnURL string, meta app.Metadata) (app.CardSetup, error)
	PlaceOrder(ctx context.Context, cmd domain.PlaceOrder, meta app.Metadata) (app.Placed, error)
	RequestRefund(ctx context.Context, userID string, id domain.OrderID, meta app.Metadata) (eventstore.Position, error)
	CancelSubscription(ctx context.Context, userID string, id domain.SubscriptionID, meta app.Metadata) (eventstore.Position, error)
	CancelAtPeriodEnd(ctx context.Context, userID string, id domain.SubscriptionID, meta app.Metadata) (eventstore.Position, error)
	UpdateSubscription(ctx context.Context, userID string, id domain.SubscriptionID, change app.SubscriptionChange, meta app.Metadata) (eventstore.Position, error)
}

// Queries is the read side the list endpoints serve (package projections).
type Queries interface {
	PaymentMethods(ctx context.Context, userID string, p projections.Page) ([]projections.PaymentMethod, string, error)
	Orders(ctx context.Context, userID string, q projections.OrderQuery) ([]projections.RawOrder, bool, error)
	Order(ctx context.Context, userID, orderID string) (projections.Order, error)
	Subscriptions(ctx context.Context, userID string, p projections.Page) ([]projections.Subscription, string, error)
	Subscription(ctx context.Context, userID, id string) (projections.Subscription, error)
}

var _ Commands = (*app.Service)(nil)
