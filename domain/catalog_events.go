package domain

// PlanPublished: a plan became available for sale (new, or back after being
// retired).
type PlanPublished struct {
	Plan Plan `json:"plan"`
}

// PlanChanged: an active plan's definition changed. Orders already placed keep
// the amount they recorded.
type PlanChanged struct {
	Plan Plan `json:"plan"`
}

// PlanRetired: a plan is no longer sold. Existing orders and subscriptions on
// it are unaffected.
type PlanRetired struct {
	PlanID PlanID `json:"plan_id"`
}

func (PlanPublished) EventType() string { return EventPlanPublished }
func (PlanChanged) EventType() string   { return EventPlanChanged }
func (PlanRetired) EventType() string   { return EventPlanRetired }

func (PlanPublished) StreamID() string { return CatalogStream }
func (PlanChanged) StreamID() string   { return CatalogStream }
func (PlanRetired) StreamID() string   { return CatalogStream }
