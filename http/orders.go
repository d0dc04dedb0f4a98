package http

import (
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/internal/jsonx"
	"github.com/robotlabor/billing/projections"
)

type orderRequest struct {
	PaymentMethodID *string `json:"payment_method_id"`
	PlanID          *string `json:"plan_id"`
	Amount          *int64  `json:"amount"`
	IdempotencyKey  *string `json:"idempotency_key"`
}

// decodePlain reads the body every order is placed with (a plainDecoder).
func (r *orderRequest) decodePlain(body []byte) bool {
	var got orderRequest
	s := jsonx.NewScanner(body)
	str := func(into **string) bool {
		var v string
		if !s.Str(&v) {
			return false
		}
		*into = &v
		return true
	}
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "payment_method_id":
			return str(&got.PaymentMethodID)
		case "plan_id":
			return str(&got.PlanID)
		case "idempotency_key":
			return str(&got.IdempotencyKey)
		case "amount":
			var n int64
			if !s.Int64(&n) {
				return false
			}
			got.Amount = &n
			return true
		}
		return false
	})
	if ok {
		*r = got
	}
	return ok
}

// maxField bounds free-form ids in requests.
const maxField = 255

// placeOrder answers POST /v1/me/wallet/orders: one order per idempotency
// key, answered once its payment outcome is known or the bounded wait ends.
func (s *Server) placeOrder(c *gin.Context) {
	var req orderRequest
	if err := decodeJSON(c, &req, false); err != nil {
		fail(c, err)
		return
	}
	cmd, err := orderCommand(c, req)
	if err != nil {
		fail(c, err)
		return
	}
	watch := s.cfg.Progress.Watch(cmd.OrderID().Stream())
	defer watch.Release()
	placed, err := s.cfg.Commands.PlaceOrder(c.Request.Context(), cmd, metadata(c))
	if err != nil {
		fail(c, err)
		return
	}
	order, err := s.orderOutcome(c, watch, placed.OrderID, placed.Position, !placed.Replayed, "pending")
	if err != nil {
		fail(c, err)
		return
	}
	if placed.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	answerOrder(c, http.StatusCreated, order)
}

// orderCommand checks the request's form and builds the command. The key
// comes from the body or the Idempotency-Key header; both must agree.
func orderCommand(c *gin.Context, req orderRequest) (domain.PlaceOrder, error) {
	key, err := idempotencyKey(c, req.IdempotencyKey)
	if err != nil {
		return domain.PlaceOrder{}, err
	}
	for _, f := range []struct {
		name  string
		value *string
	}{{"plan_id", req.PlanID}, {"payment_method_id", req.PaymentMethodID}} {
		switch {
		case f.value == nil || *f.value == "":
			return domain.PlaceOrder{}, validationFailed(f.name, f.name+" is required")
		case utf8.RuneCountInString(*f.value) > maxField:
			return domain.PlaceOrder{}, validationFailed(f.name, f.name+" is too long")
		}
	}
	if req.Amount != nil && *req.Amount < 0 {
		return domain.PlaceOrder{}, validationFailed("amount", "amount must not be negative")
	}
	return domain.PlaceOrder{
		UserID: userOf(c), IdempotencyKey: key, PlanID: *req.PlanID,
		PaymentMethodID: *req.PaymentMethodID, Amount: req.Amount,
	}, nil
}

func idempotencyKey(c *gin.Context, body *string) (string, error) {
	header, inHeader := c.Request.Header["Idempotency-Key"]
	var key string
	switch {
	case inHeader && body != nil && header[0] != *body:
		return "", invalidRequest("idempotency_key", "the Idempotency-Key header and the idempotency_key field differ")
	case inHeader && !utf8.ValidString(header[0]):
		return "", invalidRequest("idempotency_key", "the Idempotency-Key header is not valid UTF-8")
	case inHeader:
		key = header[0]
	case body != nil:
		key = *body
	default:
		return "", validationFailed("idempotency_key", "idempotency_key is required (body field or Idempotency-Key header)")
	}
	if n := utf8.RuneCountInString(key); n < 1 || n > maxField {
		return "", validationFailed("idempotency_key", "idempotency_key must be 1 to 255 characters")
	}
	return key, nil
}

// orderOutcome answers with the order as the read models fold it once they
// folded the request's write at pos, waiting (bounded) while it is still
// in status `waiting`; wrote says the request's write put it there. The
// watch on the order's stream was taken before the write. The order's
// events are durable in the log by then; the read models commit them a
// moment later, and every read waits for that (synced).
func (s *Server) orderOutcome(c *gin.Context, watch *projections.Watch, id domain.OrderID, pos eventstore.Position, wrote bool, waiting string) (projections.Order, error) {
	ctx := c.Request.Context()
	if err := s.folded(ctx, pos); err != nil {
		return projections.Order{}, err
	}
	user := userOf(c)
	return settle(ctx, s, watch, pos, wrote,
		func() (projections.Order, error) {
			// The row as the projector folded it, when it folded an
			// event of the order since the watch began; else read.
			if o, ok := watch.Order(); ok && o.UserID == user {
				return o, nil
			}
			return s.cfg.Queries.Order(ctx, user, string(id))
		},
		func(o projections.Order) bool { return o.Status != waiting })
}

// listOrders answers GET /v1/me/wallet/orders.
func (s *Server) listOrders(c *gin.Context) {
	q, err := orderQuery(c)
	if err != nil {
		fail(c, err)
		return
	}
	items, hasMore, err := s.cfg.Queries.Orders(c.Request.Context(), userOf(c), q)
	if errors.Is(err, projections.ErrInvalidCursor) {
		err = invalidRequest("after_public_id", "after_public_id is not one of your orders")
	}
	if err != nil {
		fail(c, err)
		return
	}
	bodies := make([]json.RawMessage, len(items))
	for i, o := range items {
		bodies[i] = o.JSON
	}
	var next string
	if hasMore {
		next = items[len(items)-1].ID
	}
	rawList(c, bodies, hasMore, next)
}

func orderQuery(c *gin.Context) (projections.OrderQuery, error) {
	limit, err := limitParam(c, 20)
	if err != nil {
		return projections.OrderQuery{}, err
	}
	q := projections.OrderQuery{Limit: limit, AfterID: c.Query("after_public_id"), SortBy: "created_at", Desc: true}
	asc, hasAsc := c.GetQuery("order_by_asc")
	desc, hasDesc := c.GetQuery("order_by_desc")
	switch {
	case hasAsc && hasDesc:
		return q, invalidRequest("order_by_asc", "use order_by_asc or order_by_desc, not both")
	case hasAsc:
		q.SortBy, q.Desc = asc, false
	case hasDesc:
		q.SortBy = desc
	}
	if q.SortBy != "created_at" && q.SortBy != "amount" {
		param := "order_by_desc"
		if hasAsc {
			param = "order_by_asc"
		}
		return q, invalidRequest(param, "orders can be ordered by created_at or amount")
	}
	if _, ok := c.GetQuery("after_public_id"); ok && q.AfterID == "" {
		return q, invalidRequest("after_public_id", "after_public_id is empty")
	}
	q.AsOf, err = asOfParam(c)
	return q, err
}

// refundOrder answers POST /v1/me/wallet/orders/{order_id}/refund.
func (s *Server) refundOrder(c *gin.Context) {
	if err := decodeJSON(c, &struct{}{}, true); err != nil {
		fail(c, err)
		return
	}
	id, err := domain.ParseOrderID(c.Param("order_id"))
	if err != nil {
		fail(c, notFound("no such order"))
		return
	}
	watch := s.cfg.Progress.Watch(id.Stream())
	defer watch.Release()
	pos, err := s.cfg.Commands.RequestRefund(c.Request.Context(), userOf(c), id, metadata(c))
	if err != nil {
		fail(c, err)
		return
	}
	order, err := s.orderOutcome(c, watch, id, pos, true, "refund_pending")
	if err != nil {
		fail(c, err)
		return
	}
	answerOrder(c, http.StatusOK, order)
}

// getOrder answers GET /v1/me/wallet/orders/{id}: the order as it is now,
// so a client can follow a pending one; another user's is 404.
func (s *Server) getOrder(c *gin.Context) {
	id, err := domain.ParseOrderID(c.Param("order_id"))
	if err != nil {
		fail(c, notFound("no such order"))
		return
	}
	o, err := s.cfg.Queries.Order(c.Request.Context(), userOf(c), string(id))
	if err != nil {
		fail(c, err)
		return
	}
	answerOrder(c, http.StatusOK, o)
}

// answerOrder answers with the order's own JSON, the bytes a page of
// orders shows for it (c.JSON would escape <, > and & in them again).
func answerOrder(c *gin.Context, status int, o projections.Order) {
	body, _ := o.MarshalJSON() // never fails
	c.Data(status, "application/json; charset=utf-8", body)
}
