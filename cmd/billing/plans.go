package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/robotlabor/billing/domain"
)

// plansFile is the format of BILLING_PLANS_FILE: the plans in the shape
// GET /v1/plans shows them. See docs/operations.md.
type plansFile struct {
	Plans []filePlan `json:"plans"`
}

type filePlan struct {
	ID            string              `json:"id"`
	Name          string              `json:"name"`
	Description   string              `json:"description"`
	Type          string              `json:"type"`
	Amount        int64               `json:"amount"`
	Currency      string              `json:"currency"`
	Interval      string              `json:"interval"`
	IntervalCount int                 `json:"interval_count"`
	CustomAmount  *domain.AmountRange `json:"custom_amount"`
	ProviderPrice string              `json:"provider_price"` // Stripe: price_… or a lookup key
}

// loadPlans returns the catalog to record: the file's when path is set,
// else the built-in default. Every plan is validated.
func loadPlans(path string) ([]domain.Plan, error) {
	if path == "" {
		return domain.DefaultPlans(), nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plans file: %w", err)
	}
	var f plansFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("plans file %s: %w", path, err)
	}
	if len(f.Plans) == 0 {
		return nil, fmt.Errorf("plans file %s: no plans", path)
	}
	plans := make([]domain.Plan, len(f.Plans))
	for i, p := range f.Plans {
		plans[i] = domain.Plan{
			ID: domain.PlanID(p.ID), Name: p.Name, Description: p.Description, Type: domain.PlanType(p.Type),
			Price:    domain.Money{Amount: p.Amount, Currency: domain.Currency(p.Currency)},
			Interval: domain.Interval(p.Interval), IntervalCount: p.IntervalCount, CustomAmount: p.CustomAmount,
			ProviderPrice: p.ProviderPrice,
		}
		if err := plans[i].Validate(); err != nil {
			return nil, fmt.Errorf("plans file %s: plan %d (%s): %w", path, i, p.ID, err)
		}
	}
	return plans, nil
}
