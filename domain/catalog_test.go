package domain_test

import (
	"testing"

	"github.com/robotlabor/billing/domain"
)

func catalogOf(events ...domain.Event) *domain.Catalog {
	c := domain.NewCatalog()
	for _, e := range events {
		c.Apply(e)
	}
	return c
}

func TestCatalogSync(t *testing.T) {
	repriced := fixedPlan()
	repriced.Price.Amount = 5900
	widened := customPlan()
	widened.CustomAmount = &domain.AmountRange{Min: 100, Max: 500000}
	sameCustom := customPlan() // equal values, different pointer
	broken := fixedPlan()
	broken.Name = ""
	tests := []struct {
		name    string
		given   []domain.Event
		desired []domain.Plan
		want    []domain.Event
		wantErr error
	}{
		{"publish new plans", nil, []domain.Plan{fixedPlan(), monthlyPlan()},
			[]domain.Event{domain.PlanPublished{Plan: fixedPlan()}, domain.PlanPublished{Plan: monthlyPlan()}}, nil},
		{"same catalog again appends nothing", []domain.Event{domain.PlanPublished{Plan: fixedPlan()}, domain.PlanPublished{Plan: customPlan()}},
			[]domain.Plan{sameCustom, fixedPlan()}, nil, nil},
		{"change a price", []domain.Event{domain.PlanPublished{Plan: fixedPlan()}}, []domain.Plan{repriced},
			[]domain.Event{domain.PlanChanged{Plan: repriced}}, nil},
		{"change a custom range", []domain.Event{domain.PlanPublished{Plan: customPlan()}}, []domain.Plan{widened},
			[]domain.Event{domain.PlanChanged{Plan: widened}}, nil},
		{"retire a missing plan", []domain.Event{domain.PlanPublished{Plan: fixedPlan()}, domain.PlanPublished{Plan: monthlyPlan()}},
			[]domain.Plan{monthlyPlan()}, []domain.Event{domain.PlanRetired{PlanID: fixedPlan().ID}}, nil},
		{"a retired plan stays retired", []domain.Event{domain.PlanPublished{Plan: fixedPlan()}, domain.PlanRetired{PlanID: fixedPlan().ID}},
			nil, nil, nil},
		{"publish a retired plan again", []domain.Event{domain.PlanPublished{Plan: fixedPlan()}, domain.PlanRetired{PlanID: fixedPlan().ID}},
			[]domain.Plan{fixedPlan()}, []domain.Event{domain.PlanPublished{Plan: fixedPlan()}}, nil},
		{"an invalid plan", nil, []domain.Plan{fixedPlan(), broken}, nil, invalid("name")},
		{"a duplicate id", nil, []domain.Plan{fixedPlan(), repriced}, nil, invalid("id")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := catalogOf(tt.given...).Sync(tt.desired)
			then(t, got, err, tt.want, tt.wantErr)
		})
	}
}

func TestCatalogLookups(t *testing.T) {
	c := catalogOf(
		domain.PlanPublished{Plan: monthlyPlan()},
		domain.PlanPublished{Plan: fixedPlan()},
		domain.PlanPublished{Plan: customPlan()},
		domain.PlanRetired{PlanID: customPlan().ID},
	)

	var got []domain.PlanID
	for _, p := range c.Plans() {
		got = append(got, p.ID)
	}
	want := []domain.PlanID{"plan_fleet_monthly", "plan_robot_hours_10"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Plans() = %v, want %v (active, sorted by id)", got, want)
	}
	if _, ok := c.Plan(customPlan().ID); ok {
		t.Errorf("retired plan found")
	}
	if p, ok := c.Plan(fixedPlan().ID); !ok || !p.Equal(fixedPlan()) {
		t.Errorf("Plan(%s) = %+v, %v", fixedPlan().ID, p, ok)
	}
}

func TestCatalogHandsOutCopies(t *testing.T) {
	c := catalogOf(domain.PlanPublished{Plan: customPlan()})

	p, _ := c.Plan(customPlan().ID)
	p.CustomAmount.Max = 1

	if again, _ := c.Plan(customPlan().ID); again.CustomAmount.Max != 500000 {
		t.Errorf("changing a returned plan changed the catalog")
	}
}
