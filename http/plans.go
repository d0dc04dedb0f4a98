package http

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/domain"
)

// PlanSource gives the plans on sale now.
type PlanSource interface {
	Plans(ctx context.Context) ([]domain.Plan, error)
}

// plan is a plan as api.md shows it.
type plan struct {
	ID            string              `json:"id"`
	Name          string              `json:"name"`
	Description   string              `json:"description"`
	Type          string              `json:"type"`
	Amount        int64               `json:"amount"`
	Currency      string              `json:"currency"`
	Interval      *string             `json:"interval"`
	IntervalCount *int                `json:"interval_count"`
	CustomAmount  *domain.AmountRange `json:"custom_amount"`
}

func planJSON(p domain.Plan) plan {
	out := plan{
		ID: string(p.ID), Name: p.Name, Description: p.Description, Type: string(p.Type),
		Amount: p.Price.Amount, Currency: string(p.Price.Currency), CustomAmount: p.CustomAmount,
	}
	if p.Type == domain.Recurring {
		iv, n := string(p.Interval), p.IntervalCount
		out.Interval, out.IntervalCount = &iv, &n
	}
	return out
}

// listPlans answers GET /v1/plans: every plan on sale, unpaginated.
func (s *Server) listPlans(c *gin.Context) {
	plans, err := s.cfg.Plans.Plans(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	out := list[plan]{Data: make([]plan, 0, len(plans))}
	for _, p := range plans {
		out.Data = append(out.Data, planJSON(p))
	}
	c.PureJSON(http.StatusOK, out)
}
