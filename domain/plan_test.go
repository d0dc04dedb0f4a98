package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
)

func fixedPlan() domain.Plan {
	return domain.Plan{ID: "plan_robot_hours_10", Name: "10 robot-hours", Type: domain.OneTime, Price: domain.Money{Amount: 4900, Currency: "usd"}}
}

func customPlan() domain.Plan {
	p := fixedPlan()
	p.ID, p.Price.Amount, p.CustomAmount = "plan_robot_hours_custom", 2500, &domain.AmountRange{Min: 500, Max: 500000}
	return p
}

func monthlyPlan() domain.Plan {
	return domain.Plan{
		ID: "plan_fleet_monthly", Name: "Fleet", Type: domain.Recurring,
		Price: domain.Money{Amount: 19900, Currency: "usd"}, Interval: domain.Month, IntervalCount: 1,
	}
}

func TestPlanValidate(t *testing.T) {
	edit := func(p domain.Plan, f func(*domain.Plan)) domain.Plan { f(&p); return p }
	tests := []struct {
		name    string
		plan    domain.Plan
		wantErr error
	}{
		{"fixed one_time", fixedPlan(), nil},
		{"custom one_time", customPlan(), nil},
		{"monthly", monthlyPlan(), nil},
		{"every 3 weeks", edit(monthlyPlan(), func(p *domain.Plan) { p.Interval, p.IntervalCount = domain.Week, 3 }), nil},
		{"id without prefix", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "robot_hours" }), invalid("id")},
		{"id with upper case", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "plan_Robot" }), invalid("id")},
		{"id with a dash", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "plan_robot-hours" }), invalid("id")},
		{"id of the prefix alone", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "plan_" }), invalid("id")},
		{"id of 65 characters", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "plan_" + domain.PlanID(strings.Repeat("a", 60)) }), invalid("id")},
		{"id of 64 characters", edit(fixedPlan(), func(p *domain.Plan) { p.ID = "plan_" + domain.PlanID(strings.Repeat("a", 59)) }), nil},
		{"no name", edit(fixedPlan(), func(p *domain.Plan) { p.Name = "  " }), invalid("name")},
		{"unknown type", edit(fixedPlan(), func(p *domain.Plan) { p.Type = "forever" }), invalid("type")},
		{"upper-case currency", edit(fixedPlan(), func(p *domain.Plan) { p.Price.Currency = "USD" }), invalid("price.currency")},
		{"free", edit(fixedPlan(), func(p *domain.Plan) { p.Price.Amount = 0 }), invalid("price.amount")},
		{"negative price", edit(fixedPlan(), func(p *domain.Plan) { p.Price.Amount = -1 }), invalid("price.amount")},
		{"one_time with an interval", edit(fixedPlan(), func(p *domain.Plan) { p.Interval = domain.Month }), invalid("interval")},
		{"one_time with an interval count", edit(fixedPlan(), func(p *domain.Plan) { p.IntervalCount = 1 }), invalid("interval")},
		{"recurring without interval", edit(monthlyPlan(), func(p *domain.Plan) { p.Interval = "" }), invalid("interval")},
		{"recurring with unknown interval", edit(monthlyPlan(), func(p *domain.Plan) { p.Interval = "hour" }), invalid("interval")},
		{"recurring without count", edit(monthlyPlan(), func(p *domain.Plan) { p.IntervalCount = 0 }), invalid("interval_count")},
		{"recurring with custom amount", edit(monthlyPlan(), func(p *domain.Plan) {
			p.CustomAmount = &domain.AmountRange{Min: 1, Max: 100000}
		}), invalid("custom_amount")},
		{"custom min of zero", edit(customPlan(), func(p *domain.Plan) { p.CustomAmount.Min = 0 }), invalid("custom_amount")},
		{"custom min above max", edit(customPlan(), func(p *domain.Plan) { p.CustomAmount.Min, p.CustomAmount.Max = 3000, 2000 }), invalid("custom_amount")},
		{"suggested price below min", edit(customPlan(), func(p *domain.Plan) { p.Price.Amount = 499 }), invalid("custom_amount")},
		{"suggested price above max", edit(customPlan(), func(p *domain.Plan) { p.Price.Amount = 500001 }), invalid("custom_amount")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.plan.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			then(t, nil, err, nil, tt.wantErr)
		})
	}
}

func TestResolveAmount(t *testing.T) {
	usd := func(a int64) domain.Money { return domain.Money{Amount: a, Currency: "usd"} }
	tests := []struct {
		name      string
		plan      domain.Plan
		requested *int64
		want      domain.Money
		wantErr   error
	}{
		{"fixed, omitted", fixedPlan(), nil, usd(4900), nil},
		{"fixed, equal", fixedPlan(), ptr(4900), usd(4900), nil},
		{"fixed, other", fixedPlan(), ptr(4901), domain.Money{}, domain.ErrAmountNotAllowed},
		{"fixed, negative", fixedPlan(), ptr(-4900), domain.Money{}, invalid("amount")},
		{"custom, omitted", customPlan(), nil, domain.Money{}, invalid("amount")},
		{"custom, in range", customPlan(), ptr(777), usd(777), nil},
		{"custom, min", customPlan(), ptr(500), usd(500), nil},
		{"custom, max", customPlan(), ptr(500000), usd(500000), nil},
		{"custom, below", customPlan(), ptr(499), domain.Money{}, domain.ErrAmountOutOfRange},
		{"custom, zero", customPlan(), ptr(0), domain.Money{}, domain.ErrAmountOutOfRange},
		{"custom, above", customPlan(), ptr(500001), domain.Money{}, domain.ErrAmountOutOfRange},
		{"custom, negative", customPlan(), ptr(-1), domain.Money{}, invalid("amount")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.plan.ResolveAmount(tt.requested)
			if tt.wantErr != nil {
				then(t, nil, err, nil, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveAmount = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestAddInterval(t *testing.T) {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 30, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		start time.Time
		iv    domain.Interval
		count int
		want  time.Time
	}{
		{"a day", at(2030, 1, 31), domain.Day, 1, at(2030, 2, 1)},
		{"two weeks", at(2030, 1, 25), domain.Week, 2, at(2030, 2, 8)},
		{"a month", at(2030, 1, 15), domain.Month, 1, at(2030, 2, 15)},
		{"a month from the 31st clamps to February's end", at(2030, 1, 31), domain.Month, 1, at(2030, 2, 28)},
		{"a month from the 31st in a leap year", at(2032, 1, 31), domain.Month, 1, at(2032, 2, 29)},
		{"three months across a year", at(2030, 11, 30), domain.Month, 3, at(2031, 2, 28)},
		{"a year", at(2030, 6, 1), domain.Year, 1, at(2031, 6, 1)},
		{"a year from a leap day", at(2032, 2, 29), domain.Year, 1, at(2033, 2, 28)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := domain.AddInterval(tt.start, tt.iv, tt.count); !got.Equal(tt.want) {
				t.Errorf("AddInterval(%v, %s, %d) = %v, want %v", tt.start, tt.iv, tt.count, got, tt.want)
			}
		})
	}
}

func TestDefaultPlans(t *testing.T) {
	var fixed, custom, monthly, yearly bool
	for _, p := range domain.DefaultPlans() {
		if err := p.Validate(); err != nil {
			t.Errorf("default plan %s: %v", p.ID, err)
		}
		fixed = fixed || (p.Type == domain.OneTime && p.CustomAmount == nil)
		custom = custom || (p.Type == domain.OneTime && p.CustomAmount != nil)
		monthly = monthly || (p.Type == domain.Recurring && p.Interval == domain.Month)
		yearly = yearly || (p.Type == domain.Recurring && p.Interval == domain.Year)
	}
	if !fixed || !custom || !monthly || !yearly {
		t.Errorf("default catalog lacks a kind: fixed %v custom %v monthly %v yearly %v", fixed, custom, monthly, yearly)
	}
}
