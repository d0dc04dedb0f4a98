package app

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/payments"
)

// CardSetup is a started setup session: the page where the user saves a card.
type CardSetup struct {
	SessionID domain.SetupSessionID
	URL       string
	ExpiresAt time.Time
}

// StartCardSetup opens a hosted card page for the user at the provider
// (creating the user's customer there first, once) and records it.
func (s *Service) StartCardSetup(ctx context.Context, userID, returnURL string, meta Metadata) (CardSetup, error) {
	meta.UserID = userID
	customerID, err := s.customer(ctx, userID, meta)
	if err != nil {
		return CardSetup{}, err
	}
	sessionID := domain.NewSetupSessionID(uuid.New())
	sess, err := s.Provider.CreateSetupSession(ctx, payments.CreateSetupSession{
		CustomerID: customerID, UserID: userID, SessionID: string(sessionID), ReturnURL: returnURL,
		IdempotencyKey: "setup_" + string(sessionID),
	})
	if err != nil {
		return CardSetup{}, fmt.Errorf("create setup session: %w", err)
	}
	cmd := domain.StartCardSetup{
		SessionID: sessionID, ProviderSessionID: sess.ProviderSessionID, URL: sess.URL,
		ReturnURL: returnURL, ExpiresAt: sess.ExpiresAt,
	}
	now := s.Log.Now()
	_, _, err = Update(ctx, s.Log, domain.WalletStream(userID), newWallet(userID),
		func(w *domain.Wallet) ([]domain.Event, error) { return w.StartCardSetup(cmd, now) }, meta)
	if err != nil {
		return CardSetup{}, err
	}
	return CardSetup{SessionID: sessionID, URL: sess.URL, ExpiresAt: sess.ExpiresAt}, nil
}

// customer returns the user's customer at the provider, creating and
// recording it the first time. The provider call's idempotency key is the
// user's, so racing first requests get one customer.
func (s *Service) customer(ctx context.Context, userID string, meta Metadata) (string, error) {
	provider := s.Provider.Name()
	w, err := s.Log.Wallet(ctx, userID, func(w *domain.Wallet) bool {
		_, ok := w.CustomerID(provider)
		return ok
	})
	if err != nil {
		return "", err
	}
	if id, ok := w.CustomerID(provider); ok {
		return id, nil
	}
	id, err := s.Provider.CreateCustomer(ctx, payments.CreateCustomer{UserID: userID, IdempotencyKey: "customer_" + provider + "_" + userID})
	if err != nil {
		return "", fmt.Errorf("create customer: %w", err)
	}
	now := s.Log.Now()
	_, _, err = Update(ctx, s.Log, domain.WalletStream(userID), newWallet(userID),
		func(w *domain.Wallet) ([]domain.Event, error) { return w.CreateCustomer(provider, id, now) }, meta)
	return id, err
}

func newWallet(userID string) func() *domain.Wallet {
	return func() *domain.Wallet { return domain.NewWallet(userID) }
}

// AttachCard records the card a user saved on a setup session's page, as
// the provider reports it. The card's ledger id derives from the session, so
// a completion reported twice lists the card once. It returns where the
// card landed in the log (zero when it was already there).
func (s *Service) AttachCard(ctx context.Context, e payments.SetupCompleted, meta Metadata) (eventstore.Position, error) {
	return AttachCard(ctx, s.Log, e, meta)
}

// AttachCard is Service.AttachCard for those that hold only the log (the
// reconciler, reading the provider's news).
func AttachCard(ctx context.Context, l *Log, e payments.SetupCompleted, meta Metadata) (eventstore.Position, error) {
	session, err := domain.ParseSetupSessionID(e.SessionID)
	if err != nil {
		return 0, err
	}
	meta.UserID = e.UserID
	cmd := domain.AttachCard{
		SessionID: session, PaymentMethodID: domain.PaymentMethodIDFor(session),
		ProviderPaymentMethodID: e.Card.ProviderPaymentMethodID,
		Brand:                   e.Card.Brand, Last4: e.Card.Last4, ExpMonth: e.Card.ExpMonth, ExpYear: e.Card.ExpYear,
	}
	// The session's expiry is judged at the moment the card was saved, not
	// when the news arrived.
	at := l.Now()
	if !e.CompletedAt.IsZero() && e.CompletedAt.Before(at) {
		at = e.CompletedAt
	}
	_, res, err := Update(ctx, l, domain.WalletStream(e.UserID), newWallet(e.UserID),
		func(w *domain.Wallet) ([]domain.Event, error) { return w.AttachCard(cmd, at) }, meta)
	return res.Position, err
}

// DecideWallet appends what decide decides on userID's wallet.
func DecideWallet(ctx context.Context, l *Log, userID string, meta Metadata, decide func(*domain.Wallet) ([]domain.Event, error)) error {
	_, _, err := Update(ctx, l, domain.WalletStream(userID), newWallet(userID), decide, meta)
	return err
}
