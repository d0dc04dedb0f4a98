package domain

import (
	"fmt"
	"strings"
	"time"
)

// PlanID is a plan's public id, chosen by the catalog's author:
// "plan_" followed by lowercase letters, digits and underscores, 64 characters
// at most in all (plan_robot_hours_10).
type PlanID string

// ParsePlanID checks the form of a plan id. A malformed id is ErrValidation
// on "plan_id".
func ParsePlanID(s string) (PlanID, error) {
	rest, ok := strings.CutPrefix(s, prefixPlan)
	if !ok || rest == "" || len(s) > 64 || strings.TrimLeft(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return "", Invalid("plan_id", fmt.Sprintf("plan id %q must be %q followed by [a-z0-9_], 64 characters at most", s, prefixPlan))
	}
	return PlanID(s), nil
}

// PlanType is a plan's billing model.
type PlanType string

// Plan types.
const (
	OneTime   PlanType = "one_time"
	Recurring PlanType = "recurring"
)

// Interval is the unit of a recurring plan's billing period.
type Interval string

// Billing intervals.
const (
	Day   Interval = "day"
	Week  Interval = "week"
	Month Interval = "month"
	Year  Interval = "year"
)

// Valid reports whether iv is one of the four intervals.
func (iv Interval) Valid() bool {
	return iv == Day || iv == Week || iv == Month || iv == Year
}

// AmountRange bounds the amount a buyer may choose, in minor units.
type AmountRange struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Plan is something a user can buy: once (one_time), or every IntervalCount
// Intervals (recurring). With CustomAmount set, the buyer chooses the amount
// within the range and Price is the suggested default.
type Plan struct {
	ID            PlanID       `json:"id"`
	Name          string       `json:"name"`
	Description   string       `json:"description"`
	Type          PlanType     `json:"type"`
	Price         Money        `json:"price"`
	Interval      Interval     `json:"interval,omitempty"`
	IntervalCount int          `json:"interval_count,omitempty"`
	CustomAmount  *AmountRange `json:"custom_amount,omitempty"`
	// ProviderPrice is the payment provider's price a recurring plan bills
	// (Stripe: a price id price_… or a lookup key); the sandbox needs none.
	ProviderPrice string `json:"provider_price,omitempty"`
}

// Validate checks that p is a plan that can be sold. It returns ErrValidation
// with Param naming the field: "id", "name", "type", "price.currency",
// "price.amount", "interval", "interval_count" or "custom_amount".
func (p Plan) Validate() error {
	if _, err := ParsePlanID(string(p.ID)); err != nil {
		return Invalid("id", err.(*Error).Message)
	}
	if strings.TrimSpace(p.Name) == "" {
		return Invalid("name", "name is required")
	}
	if !p.Price.Currency.Valid() {
		return Invalid("price.currency", fmt.Sprintf("currency %q is not a lowercase ISO 4217 code", p.Price.Currency))
	}
	if p.Price.Amount <= 0 {
		return Invalid("price.amount", "price must be a positive number of minor units")
	}
	switch p.Type {
	case OneTime:
		if p.Interval != "" || p.IntervalCount != 0 {
			return Invalid("interval", "a one_time plan has no interval")
		}
	case Recurring:
		if !p.Interval.Valid() {
			return Invalid("interval", fmt.Sprintf("interval %q must be day, week, month or year", p.Interval))
		}
		if p.IntervalCount < 1 {
			return Invalid("interval_count", "interval_count must be at least 1")
		}
		if p.CustomAmount != nil {
			return Invalid("custom_amount", "a recurring plan cannot have a custom amount")
		}
	default:
		return Invalid("type", fmt.Sprintf("type %q must be one_time or recurring", p.Type))
	}
	return p.validateRange()
}

func (p Plan) validateRange() error {
	r := p.CustomAmount
	if r == nil {
		return nil
	}
	if r.Min <= 0 || r.Min > r.Max {
		return Invalid("custom_amount", "custom_amount needs 0 < min <= max")
	}
	if p.Price.Amount < r.Min || p.Price.Amount > r.Max {
		return Invalid("custom_amount", "the suggested price must lie within custom_amount")
	}
	return nil
}

// ResolveAmount is the money an order for p charges, given the amount the
// buyer sent (nil when omitted). It returns:
//   - ErrValidation on "amount" for a negative amount, or a custom-amount
//     plan bought without an amount;
//   - ErrAmountNotAllowed for a fixed-price plan and an amount other than
//     its price;
//   - ErrAmountOutOfRange for a custom amount outside the plan's range.
func (p Plan) ResolveAmount(requested *int64) (Money, error) {
	if requested != nil && *requested < 0 {
		return Money{}, Invalid("amount", "amount must not be negative")
	}
	if p.CustomAmount == nil {
		if requested != nil && *requested != p.Price.Amount {
			return Money{}, refuse(ErrAmountNotAllowed, "amount",
				"plan %s has a fixed price of %s; omit amount or send %d", p.ID, p.Price, p.Price.Amount)
		}
		return p.Price, nil
	}
	if requested == nil {
		return Money{}, Invalid("amount", "amount is required for this plan")
	}
	if r := p.CustomAmount; *requested < r.Min || *requested > r.Max {
		return Money{}, refuse(ErrAmountOutOfRange, "amount",
			"amount must be between %s and %s", Money{r.Min, p.Price.Currency}, Money{r.Max, p.Price.Currency})
	}
	return Money{Amount: *requested, Currency: p.Price.Currency}, nil
}

// Equal reports whether p and q define the same plan, field by field.
func (p Plan) Equal(q Plan) bool {
	if (p.CustomAmount == nil) != (q.CustomAmount == nil) {
		return false
	}
	if p.CustomAmount != nil && *p.CustomAmount != *q.CustomAmount {
		return false
	}
	p.CustomAmount, q.CustomAmount = nil, nil
	return p == q
}

// clone returns p with its own copy of CustomAmount, so a plan handed out by
// the catalog cannot alias the catalog's state.
func (p Plan) clone() Plan {
	if p.CustomAmount != nil {
		r := *p.CustomAmount
		p.CustomAmount = &r
	}
	return p
}

// AddInterval is the end of a billing period that starts at t and lasts count
// ivs. Months and years keep the day of the month, clamped to the target
// month's last day as Stripe does (Jan 31 + 1 month = Feb 28 or 29, not
// Mar 3).
func AddInterval(t time.Time, iv Interval, count int) time.Time {
	switch iv {
	case Day:
		return t.AddDate(0, 0, count)
	case Week:
		return t.AddDate(0, 0, 7*count)
	case Month:
		return addMonthsClamped(t, count)
	case Year:
		return addMonthsClamped(t, 12*count)
	}
	return t
}

func addMonthsClamped(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	firstOfTarget := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, t.Location())
	lastDay := firstOfTarget.AddDate(0, 1, -1).Day()
	ty, tm, _ := firstOfTarget.Date()
	return time.Date(ty, tm, min(d, lastDay), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
