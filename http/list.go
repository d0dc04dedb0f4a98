package http

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/robotlabor/billing/internal/jsonx"
	"github.com/robotlabor/billing/projections"
)

// list is the envelope of every list answer.
type list[T any] struct {
	Data       []T    `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// rawList answers list's JSON for items that are JSON already (as the
// read models store them), by appending: a page of orders is copied, not
// encoded.
func rawList(c *gin.Context, items []json.RawMessage, hasMore bool, next string) {
	n := 64 + len(next)
	for _, it := range items {
		n += len(it) + 1
	}
	buf := listBuffers.Get().(*[]byte)
	defer listBuffers.Put(buf)
	b := slices.Grow((*buf)[:0], n)
	b = append(b, `{"data":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"has_more":`...)
	if hasMore {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	if next != "" {
		b = append(b, `,"next_cursor":`...)
		b = jsonx.AppendString(b, next)
	}
	b = append(b, '}')
	// With its length known, the answer goes out in as few writes as its
	// size allows, not chunked.
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
	*buf = b // written out: the buffer serves the next list
}

// listBuffers hold list answers while they are written: a page of orders
// is several KB, and a buffer per answer was a good part of the garbage a
// page leaves.
var listBuffers = sync.Pool{New: func() any { return new([]byte) }}

// asOfParam reads a list's as_of (api.md, "History: as-of reads"): the
// zero time when absent. It is compared with the real time, never a
// test clock: it asks when events were recorded.
func asOfParam(c *gin.Context) (time.Time, error) {
	v, ok := c.GetQuery("as_of")
	if !ok {
		return time.Time{}, nil
	}
	t, err := projections.ParseAsOf(v, time.Now())
	if err != nil {
		return t, invalidRequest("as_of", err.Error())
	}
	return t, nil
}
