package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/sqlitex"
)

// checkpointName names the one checkpoint: all the read models are folded by
// one projector, so they are always at the same position.
const checkpointName = "read_models"

func readCheckpoint(ctx context.Context, q sqlitex.QueryRower) (eventstore.Position, error) {
	var pos int64
	err := q.QueryRowContext(ctx, `SELECT position FROM checkpoint WHERE name = ?`, checkpointName).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Start, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read checkpoint: %w", err)
	}
	return eventstore.Position(pos), nil
}

func writeCheckpoint(w *writeTx, pos eventstore.Position) error {
	// SQLite integers are signed; no backend hands out positions that large.
	if pos > math.MaxInt64 {
		return fmt.Errorf("write checkpoint: position %d does not fit in SQLite", pos)
	}
	_, err := w.exec(`INSERT INTO checkpoint (name, position) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position`, checkpointName, int64(pos))
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}
