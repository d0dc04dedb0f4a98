package relay_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/robotlabor/billing/app"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/relay"
)

// The JSON Schema that consumers validate messages with (docs/events.md,
// "Consuming the stream"). These tests keep it in step with the code: every
// type, every field the Go structs render, and the fields every message of a
// type carries.
const schemaFile = "../docs/event-message.schema.json"

// addedLater lists, per type, data fields added after events of that type
// were already stored: older messages lack them, so the schema documents them
// without requiring them although the code always renders them. Empty so far.
var addedLater = map[string][]string{}

func TestSchemaListsExactlyTheEventTypes(t *testing.T) {
	doc := readSchema(t)
	var got []string
	for _, v := range doc.at(t, "properties", "type", "enum").([]any) {
		got = append(got, v.(string))
	}
	want := domain.EventTypes()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the schema's type enum is\n%v\ndomain.EventTypes() is\n%v", got, want)
	}
}

// storedMetadata is an event's metadata as stored: what the service says
// (app.Metadata) and the chain the audit store adds (audit.Chain).
type storedMetadata struct {
	app.Metadata
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// TestSchemaDescribesTheGoTypes: the schema documents every field that
// relay.Message, app.Metadata and each event struct render (and no other),
// and requires exactly the data fields the structs always render.
func TestSchemaDescribesTheGoTypes(t *testing.T) {
	doc := readSchema(t)
	doc.checkObject(t, "message", reflect.TypeFor[relay.Message](), doc.at(t, "properties"), nil, false)
	doc.checkObject(t, "metadata", reflect.TypeFor[storedMetadata](), doc.def(t, "metadata")["properties"], nil, false)

	rules := doc.dataRules(t)
	for _, typ := range domain.EventTypes() {
		def, ok := rules[typ]
		if !ok {
			t.Errorf("the schema has no if/then rule for the data of %s", typ)
			continue
		}
		e, err := domain.Decode(typ, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		doc.checkObject(t, typ, reflect.TypeOf(e), def["properties"], def["required"], true)
	}
	if len(rules) != len(domain.EventTypes()) {
		t.Errorf("the schema has %d data rules for %d event types", len(rules), len(domain.EventTypes()))
	}
}

// TestSchemaRequiresTheContractFields: what docs/events.md promises every
// consumer, whatever the type.
func TestSchemaRequiresTheContractFields(t *testing.T) {
	doc := readSchema(t)
	rules := doc.dataRules(t)
	for _, typ := range domain.EventTypes() {
		var want []string
		switch aggregate, event, _ := strings.Cut(typ, "."); {
		case aggregate == "order":
			want = []string{"order_id", "user_id", "plan_id", "amount", "currency"}
		case aggregate == "subscription":
			want = []string{"subscription_id", "user_id", "plan_id", "order_id"}
		case aggregate == "wallet" && (event == "card_attached" || event == "card_detached"):
			want = []string{"user_id", "payment_method_id"}
		case aggregate == "wallet":
			want = []string{"user_id"}
		}
		required := strings.Fields(anyStrings(rules[typ]["required"]))
		for _, f := range want {
			if !slices.Contains(required, f) {
				t.Errorf("the schema does not require %s in the data of %s", f, typ)
			}
		}
	}
}

// TestEveryEventTypeValidates renders realistic events of every type with
// relay.Encode, exactly as the relay publishes them, and validates them.
func TestEveryEventTypeValidates(t *testing.T) {
	sch := compileSchema(t)
	seen := map[string]bool{}
	for i, e := range sampleEvents() {
		body := message(t, i, e)
		if err := sch.Validate(instance(t, body)); err != nil {
			t.Errorf("%s does not validate: %v\n%s", e.EventType(), err, body)
		}
		seen[e.EventType()] = true
	}
	for _, typ := range domain.EventTypes() {
		if !seen[typ] {
			t.Errorf("no sample event of type %s: add one to sampleEvents", typ)
		}
	}
}

// TestMissingRequiredFieldsFail: removing any required data field from a
// valid message of its type makes it invalid, so the per-type rules bite.
func TestMissingRequiredFieldsFail(t *testing.T) {
	sch := compileSchema(t)
	rules := readSchema(t).dataRules(t)
	done := map[string]bool{}
	for i, e := range sampleEvents() {
		typ := e.EventType()
		if done[typ] {
			continue
		}
		done[typ] = true
		for _, field := range strings.Fields(anyStrings(rules[typ]["required"])) {
			msg := decodeMessage(t, message(t, i, e))
			delete(msg["data"].(map[string]any), field)
			if sch.Validate(msg) == nil {
				t.Errorf("a %s message without data.%s validates", typ, field)
			}
		}
	}
}

func TestMalformedMessagesFail(t *testing.T) {
	sch := compileSchema(t)
	events := sampleEvents()
	i := slices.IndexFunc(events, func(e domain.Event) bool { return e.EventType() == domain.EventOrderPaid })
	paid := events[i]
	for name, spoil := range map[string]func(m map[string]any){
		"no position":          func(m map[string]any) { delete(m, "position") },
		"position 0":           func(m map[string]any) { m["position"] = json.Number("0") },
		"unknown type":         func(m map[string]any) { m["type"] = "order.shipped" },
		"id not a uuid":        func(m map[string]any) { m["id"] = "evt_1" },
		"recorded_at no time":  func(m map[string]any) { m["recorded_at"] = "yesterday" },
		"stream of another":    func(m map[string]any) { m["stream"] = "wallet-user_42" },
		"amount a float":       func(m map[string]any) { m["data"].(map[string]any)["amount"] = json.Number("49.5") },
		"order id malformed":   func(m map[string]any) { m["data"].(map[string]any)["order_id"] = "ord_42" },
		"metadata not object":  func(m map[string]any) { m["metadata"] = "none" },
		"correlation a number": func(m map[string]any) { m["metadata"].(map[string]any)["correlation_id"] = json.Number("7") },
	} {
		msg := decodeMessage(t, message(t, i, paid))
		spoil(msg)
		if sch.Validate(msg) == nil {
			t.Errorf("%s: the message validates", name)
		}
	}
}

// sampleEvents is one realistic history touching every event type, with
// every optional field set at least once and left out at least once.
func sampleEvents() []domain.Event {
	return slices.Concat(catalogSamples(), walletSamples(), orderSamples(), subscriptionSamples(), providerSamples())
}

const sampleUser = "user_42"

var (
	sampleSession = domain.NewSetupSessionID(uuid.MustParse("c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"))
	sampleCard    = domain.PaymentMethodIDFor(sampleSession)
	firstOrder    = domain.OrderIDFor(sampleUser, "3f9c2a7e-order-2")
	sampleSub     = domain.SubscriptionIDFor(firstOrder)
)

// at is the sample clock, minutes after the user signed up.
func at(minutes int) time.Time {
	return time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC).Add(time.Duration(minutes) * time.Minute)
}

func catalogSamples() []domain.Event {
	fleet := domain.Plan{
		ID: "plan_fleet_monthly", Name: "Fleet, monthly", Description: "A standing fleet of robots on call.",
		Type: domain.Recurring, Price: domain.Money{Amount: 19900, Currency: "usd"}, Interval: domain.Month, IntervalCount: 1,
	}
	changed := fleet
	changed.Description, changed.Price.Amount = "Now with weekend cover.", 21900
	return []domain.Event{
		domain.PlanPublished{Plan: domain.Plan{
			ID: "plan_robot_hours_custom", Name: "Robot-hours top-up", Description: "Top up by the amount you choose.",
			Type: domain.OneTime, Price: domain.Money{Amount: 2500, Currency: "usd"}, CustomAmount: &domain.AmountRange{Min: 500, Max: 500000},
		}},
		domain.PlanPublished{Plan: fleet},
		domain.PlanChanged{Plan: changed},
		domain.PlanRetired{PlanID: "plan_robot_hours_100"},
	}
}

func walletSamples() []domain.Event {
	return []domain.Event{
		domain.CustomerCreated{UserID: sampleUser, Provider: "sandbox", CustomerID: "cus_sbx_7a1f", CreatedAt: at(0)},
		domain.CardSetupStarted{UserID: sampleUser, SessionID: sampleSession, ProviderSessionID: "cs_test_a1B2c3",
			URL: "https://checkout.stripe.com/c/pay/cs_test_a1B2c3", ReturnURL: "https://app.example/cards",
			ExpiresAt: at(60 * 24), StartedAt: at(0)},
		domain.CardAttached{UserID: sampleUser, PaymentMethodID: sampleCard, SessionID: sampleSession,
			ProviderPaymentMethodID: "pm_1OqXyZ2eZvKYlo2C", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, AttachedAt: at(2)},
		domain.CardDetached{UserID: sampleUser, PaymentMethodID: sampleCard, DetachedAt: at(60 * 24 * 60)},
	}
}

func orderSamples() []domain.Event {
	order := domain.OrderIDFor(sampleUser, "3f9c2a7e-order-1")
	ref := domain.OrderRef{OrderID: order, UserID: sampleUser, PlanID: "plan_robot_hours_custom", Amount: 4900, Currency: "usd"}
	refund := domain.RefundIDFor(order)
	period := at(6 + 60*24*31)
	renewal := domain.RenewalOrderIDFor(sampleSub, period)
	fleet := func(id domain.OrderID) domain.OrderRef {
		return domain.OrderRef{OrderID: id, UserID: sampleUser, PlanID: "plan_fleet_monthly", Amount: 19900, Currency: "usd"}
	}
	return []domain.Event{
		domain.OrderPlaced{OrderRef: ref, PaymentMethodID: sampleCard, IdempotencyKey: "3f9c2a7e-order-1",
			Fingerprint: domain.Fingerprint(string(ref.PlanID), string(sampleCard), &ref.Amount), PlacedAt: at(5)},
		domain.OrderPaymentFailed{OrderRef: ref, FailureCode: "card_declined", FailureMessage: "Your card was declined.", FailedAt: at(6)},
		domain.OrderPaid{OrderRef: ref, ProviderPaymentID: "pi_3OqXyZ2eZvKYlo2C0abc", PaidAt: at(6)},
		domain.RefundRequested{OrderRef: ref, RefundID: refund, RequestedAt: at(60)},
		domain.RefundFailed{OrderRef: ref, RefundID: refund, FailureCode: "charge_disputed", FailedAt: at(61)},
		domain.OrderRefunded{OrderRef: ref, RefundID: refund, ProviderRefundID: "re_3OqXyZ2eZvKYlo2C1def", RefundedAt: at(62)},
		domain.OrderPlaced{OrderRef: fleet(firstOrder), PaymentMethodID: sampleCard, SubscriptionID: sampleSub,
			IdempotencyKey: "3f9c2a7e-order-2", Fingerprint: domain.Fingerprint("plan_fleet_monthly", string(sampleCard), nil), PlacedAt: at(5)},
		domain.OrderPlaced{OrderRef: fleet(renewal), PaymentMethodID: sampleCard, SubscriptionID: sampleSub, Renewal: true,
			IdempotencyKey: "renewal:" + string(sampleSub) + ":" + period.Format(time.RFC3339Nano),
			Fingerprint:    domain.Fingerprint("plan_fleet_monthly", string(sampleCard), ptr(19900)), PlacedAt: period},
		domain.PaymentAttemptFailed{OrderRef: fleet(renewal), Attempt: 1, FailureCode: "insufficient_funds",
			FailureMessage: "Your card has insufficient funds.", FailedAt: period.Add(time.Second)},
	}
}

func subscriptionSamples() []domain.Event {
	ref := domain.SubscriptionRef{SubscriptionID: sampleSub, UserID: sampleUser, PlanID: "plan_fleet_monthly", OrderID: firstOrder}
	period := at(6 + 60*24*31)
	return []domain.Event{
		domain.SubscriptionCreated{SubscriptionRef: ref, Interval: domain.Month, IntervalCount: 1,
			Amount: 19900, Currency: "usd", PaymentMethodID: sampleCard, CreatedAt: at(5)},
		domain.SubscriptionStarted{SubscriptionRef: ref, CurrentPeriodStart: at(6), CurrentPeriodEnd: period,
			ProviderSubscriptionID: "sub_sbx_5d1c0e6f2a9b4c8d"},
		domain.SubscriptionStarted{SubscriptionRef: ref, CurrentPeriodStart: at(6), CurrentPeriodEnd: period},
		domain.SubscriptionRenewalDue{SubscriptionRef: ref, RenewalOrderID: domain.RenewalOrderIDFor(sampleSub, period), PeriodStart: period,
			Attempt: 1, DueAt: period},
		domain.SubscriptionPastDue{SubscriptionRef: ref, FailureCode: "insufficient_funds", At: period.Add(time.Minute)},
		domain.SubscriptionPastDue{SubscriptionRef: ref, FailureCode: "insufficient_funds", At: period.Add(time.Minute),
			Attempt: 1, RetryAt: period.Add(24 * time.Hour)},
		domain.SubscriptionRenewed{SubscriptionRef: ref, RenewalOrderID: domain.RenewalOrderIDFor(sampleSub, period),
			CurrentPeriodStart: period, CurrentPeriodEnd: domain.AddInterval(period, domain.Month, 1)},
		domain.SubscriptionCardChanged{SubscriptionRef: ref, PaymentMethodID: sampleCard, ChangedAt: at(60 * 24 * 35)},
		domain.CancelScheduled{SubscriptionRef: ref, ScheduledAt: at(60 * 24 * 36)},
		domain.CancelUnscheduled{SubscriptionRef: ref, UnscheduledAt: at(60 * 24 * 37)},
		domain.SubscriptionCancelRequested{SubscriptionRef: ref, Reason: domain.ReasonCustomerRequest, RequestedAt: at(60 * 24 * 40)},
		domain.SubscriptionCanceled{SubscriptionRef: ref, Reason: domain.ReasonCustomerRequest, CanceledAt: at(1 + 60*24*40)},
	}
}

func providerSamples() []domain.Event {
	return []domain.Event{
		domain.ClockAdvanced{UserID: sampleUser, To: at(60 * 24 * 31)},
		domain.AuditSealed{Seal: 1, ToPosition: 480, Events: 480, Streams: 95, Digest: strings.Repeat("ab", 32), SealedAt: at(60 * 24 * 31)},
		domain.ProviderEventReceived{Provider: "stripe", EventID: "evt_1OqXyZ2eZvKYlo2C", Type: "charge.refunded", Created: at(60),
			Object:             json.RawMessage(`{"id":"ch_3OqXyZ2eZvKYlo2C","object":"charge","amount_refunded":4900}`),
			PreviousAttributes: json.RawMessage(`{"amount_refunded":0}`), ReceivedAt: at(61)},
		domain.ProviderEventReceived{Provider: "stripe", EventID: "evt_1OqXyZ2eZvKYlo2D", Type: "payment_intent.succeeded", Created: at(6),
			Object: json.RawMessage(`{"id":"pi_3OqXyZ2eZvKYlo2C0abc","object":"payment_intent"}`), ReceivedAt: at(6)},
	}
}

func ptr(v int64) *int64 { return &v }

// message renders e as the i-th event of a log, exactly as the relay does.
func message(t *testing.T, i int, e domain.Event) []byte {
	t.Helper()
	typ, data, err := domain.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	request := uuid.NewSHA1(uuid.NameSpaceURL, []byte("request"))
	meta := app.Metadata{CorrelationID: request.String(), UserID: "user_42"}
	if i%2 == 0 { // half the events caused by an earlier one, half by an HTTP command
		meta.CausationID = domain.EventIDFor(request, "cause").String()
	} else {
		meta.IdempotencyKey = "3f9c2a7e-order-1"
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	if i == 3 {
		metaJSON = nil // an event appended without metadata renders {}
	}
	body, err := relay.Encode(eventstore.RecordedEvent{
		ID: uuid.NewSHA1(request, []byte(strconv.Itoa(i))), Type: typ, Stream: e.StreamID(), Revision: uint64(i % 4),
		Position: eventstore.Position(1000 + i), RecordedAt: time.Date(2026, 3, 2, 9, 15, i, 123456789, time.UTC),
		Data: data, Metadata: metaJSON,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time and uuid are assertions, not annotations, for us
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaFile, err)
	}
	return sch
}

func instance(t *testing.T, body []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func decodeMessage(t *testing.T, body []byte) map[string]any {
	t.Helper()
	return instance(t, body).(map[string]any)
}

// schemaDoc is the schema file as plain JSON, for the structural checks.
type schemaDoc map[string]any

func readSchema(t *testing.T) schemaDoc {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

func (d schemaDoc) at(t *testing.T, path ...string) any {
	t.Helper()
	var v any = map[string]any(d)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok || m[p] == nil {
			t.Fatalf("the schema has no %s", strings.Join(path, "."))
		}
		v = m[p]
	}
	return v
}

func (d schemaDoc) def(t *testing.T, name string) map[string]any {
	t.Helper()
	return d.at(t, "$defs", name).(map[string]any)
}

// resolve follows a local $ref ("#/$defs/name").
func (d schemaDoc) resolve(t *testing.T, s any) map[string]any {
	t.Helper()
	m, _ := s.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		if !found {
			t.Fatalf("unexpected $ref %s", ref)
		}
		return d.def(t, name)
	}
	return m
}

// dataRules maps each type of the allOf if/then rules to its data schema.
func (d schemaDoc) dataRules(t *testing.T) map[string]map[string]any {
	t.Helper()
	rules := map[string]map[string]any{}
	for _, r := range d.at(t, "allOf").([]any) {
		rule := schemaDoc(r.(map[string]any))
		typ := rule.at(t, "if", "properties", "type", "const").(string)
		if _, dup := rules[typ]; dup {
			t.Errorf("two rules for %s", typ)
		}
		rules[typ] = d.resolve(t, rule.at(t, "then", "properties", "data"))
	}
	return rules
}

// checkObject compares the properties (and, with checkRequired, the
// required list) of an object schema with the JSON fields of goType, and
// recurses into nested structs the schema describes by $ref.
func (d schemaDoc) checkObject(t *testing.T, where string, goType reflect.Type, properties, required any, checkRequired bool) {
	t.Helper()
	props, _ := properties.(map[string]any)
	req := strings.Fields(anyStrings(required))
	fields := jsonFields(goType)
	for _, f := range fields {
		p, ok := props[f.name]
		if !ok {
			t.Errorf("%s: the schema does not document field %s", where, f.name)
			continue
		}
		switch must := f.always && !slices.Contains(addedLater[where], f.name); {
		case checkRequired && must && !slices.Contains(req, f.name):
			t.Errorf("%s: the code always renders %s but the schema does not require it", where, f.name)
		case checkRequired && !must && slices.Contains(req, f.name):
			t.Errorf("%s: the schema requires %s but the code omits it when empty", where, f.name)
		}
		if nested := structType(f.typ); nested != nil {
			sub := d.resolve(t, p)
			d.checkObject(t, where+"."+f.name, nested, sub["properties"], sub["required"], true)
		}
	}
	for name := range props {
		if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
			t.Errorf("%s: the schema documents %s, which the code does not have", where, name)
		}
	}
}

type jsonField struct {
	name   string
	always bool // rendered even when empty (no omitempty)
	typ    reflect.Type
}

// jsonFields lists the fields encoding/json renders for t, with embedded
// structs flattened.
func jsonFields(t reflect.Type) []jsonField {
	var fields []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			fields = append(fields, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		fields = append(fields, jsonField{name: name, always: !omit, typ: f.Type})
	}
	return fields
}

// structType is the struct a field holds (through a pointer), nil for
// anything else; times render as strings.
func structType(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return nil
	}
	return t
}

func anyStrings(v any) string {
	list, _ := v.([]any)
	s := make([]string, len(list))
	for i, x := range list {
		s[i], _ = x.(string)
	}
	return strings.Join(s, " ")
}
