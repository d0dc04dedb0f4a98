package domain

// DefaultPlans is the built-in robot-labor catalog the service publishes when
// no plans file is configured: packs of robot-hours bought once, a top-up
// whose amount the buyer chooses, and fleet subscriptions.
func DefaultPlans() []Plan {
	usd := func(cents int64) Money { return Money{Amount: cents, Currency: "usd"} }
	return []Plan{
		{
			ID:          "plan_robot_hours_10",
			Name:        "10 robot-hours",
			Description: "A pack of 10 hours of robot labor, used at your pace.",
			Type:        OneTime,
			Price:       usd(4900),
		},
		{
			ID:          "plan_robot_hours_100",
			Name:        "100 robot-hours",
			Description: "A pack of 100 hours of robot labor at a volume rate.",
			Type:        OneTime,
			Price:       usd(44900),
		},
		{
			ID:           "plan_robot_hours_custom",
			Name:         "Robot-hours top-up",
			Description:  "Top up your robot-hours balance by the amount you choose.",
			Type:         OneTime,
			Price:        usd(2500),
			CustomAmount: &AmountRange{Min: 500, Max: 500000},
		},
		{
			ID:            "plan_fleet_monthly",
			Name:          "Fleet, monthly",
			Description:   "A standing fleet of robots on call, billed every month.",
			Type:          Recurring,
			Price:         usd(19900),
			Interval:      Month,
			IntervalCount: 1,
		},
		{
			ID:            "plan_fleet_yearly",
			Name:          "Fleet, yearly",
			Description:   "The monthly fleet plan billed once a year, two months free.",
			Type:          Recurring,
			Price:         usd(199000),
			Interval:      Year,
			IntervalCount: 1,
		},
	}
}
