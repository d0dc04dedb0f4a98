package app

import (
	"context"
	"fmt"

	"github.com/robotlabor/billing/domain"
)

// SyncCatalog records in the catalog stream whatever it takes for the active
// plans to be exactly plans: publications, changes, retirements. Starting
// again with the same plans appends nothing. It returns how many events it
// appended, or the catalog's ErrValidation for an invalid plan.
func SyncCatalog(ctx context.Context, l *Log, plans []domain.Plan, meta Metadata) (int, error) {
	events, _, err := Update(ctx, l, domain.CatalogStream, domain.NewCatalog,
		func(c *domain.Catalog) ([]domain.Event, error) { return c.Sync(plans) }, meta)
	if err != nil {
		return 0, fmt.Errorf("sync plan catalog: %w", err)
	}
	return len(events), nil
}

// LoadCatalog returns the catalog as the log has it at most a second ago
// (Log.Catalog); it is shared: read it, never change it.
func LoadCatalog(ctx context.Context, l *Log) (*domain.Catalog, error) {
	return l.Catalog(ctx, nil)
}

// Plans serves the catalog's active plans from the log.
type Plans struct{ Log *Log }

// Plans returns the active plans sorted by id.
func (p Plans) Plans(ctx context.Context) ([]domain.Plan, error) {
	c, err := LoadCatalog(ctx, p.Log)
	if err != nil {
		return nil, err
	}
	return c.Plans(), nil
}
