package domain

import (
	"cmp"
	"fmt"
	"slices"
)

// Catalog is the aggregate of every plan ever published, in the "catalog"
// stream. Retired plans are remembered, so publishing one again is a
// publication and not a change.
type Catalog struct {
	plans map[PlanID]catalogEntry
}

type catalogEntry struct {
	plan    Plan
	retired bool
}

// NewCatalog returns an empty catalog, ready for Apply.
func NewCatalog() *Catalog {
	return &Catalog{plans: make(map[PlanID]catalogEntry)}
}

// Apply folds one catalog event into c. Events of other aggregates are ignored.
func (c *Catalog) Apply(e Event) {
	if c.plans == nil {
		c.plans = make(map[PlanID]catalogEntry)
	}
	switch e := e.(type) {
	case PlanPublished:
		c.plans[e.Plan.ID] = catalogEntry{plan: e.Plan.clone()}
	case PlanChanged:
		c.plans[e.Plan.ID] = catalogEntry{plan: e.Plan.clone()}
	case PlanRetired:
		if entry, ok := c.plans[e.PlanID]; ok {
			entry.retired = true
			c.plans[e.PlanID] = entry
		}
	}
}

// Plan returns the active plan with id id; retired and unknown plans are not
// found.
func (c *Catalog) Plan(id PlanID) (Plan, bool) {
	entry, ok := c.plans[id]
	if !ok || entry.retired {
		return Plan{}, false
	}
	return entry.plan.clone(), true
}

// Known returns the plan with id id as last defined, retired or not: what
// an order placed on it was sold under.
func (c *Catalog) Known(id PlanID) (Plan, bool) {
	entry, ok := c.plans[id]
	if !ok {
		return Plan{}, false
	}
	return entry.plan.clone(), true
}

// Plans returns the active plans sorted by id.
func (c *Catalog) Plans() []Plan {
	plans := make([]Plan, 0, len(c.plans))
	for _, entry := range c.plans {
		if !entry.retired {
			plans = append(plans, entry.plan.clone())
		}
	}
	slices.SortFunc(plans, func(a, b Plan) int { return cmp.Compare(a.ID, b.ID) })
	return plans
}

// Sync decides the events that make the active plans exactly desired:
// plan_published for a plan that is new (or was retired), plan_changed for an
// active plan whose definition differs, plan_retired for an active plan
// missing from desired. A catalog that already matches yields no events, so
// restarting with the same catalog appends nothing.
//
// It returns ErrValidation when a plan is invalid (wrapped with its id) or two
// plans share an id (Param "id").
func (c *Catalog) Sync(desired []Plan) ([]Event, error) {
	seen := make(map[PlanID]bool, len(desired))
	for _, p := range desired {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("plan %q: %w", p.ID, err)
		}
		if seen[p.ID] {
			return nil, Invalid("id", fmt.Sprintf("plan id %s appears twice", p.ID))
		}
		seen[p.ID] = true
	}
	var events []Event
	for _, p := range desired {
		current, active := c.Plan(p.ID)
		switch {
		case !active:
			events = append(events, PlanPublished{Plan: p})
		case !current.Equal(p):
			events = append(events, PlanChanged{Plan: p})
		}
	}
	for _, p := range c.Plans() {
		if !seen[p.ID] {
			events = append(events, PlanRetired{PlanID: p.ID})
		}
	}
	return events, nil
}
