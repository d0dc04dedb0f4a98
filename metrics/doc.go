// Package metrics is the service's Prometheus instrumentation: one registry
// with the metrics operators watch (docs/operations.md lists them), an event
// store decorator that counts and times appends, and the hooks the http
// layer and the reconciler report to. Lag gauges are computed when scraped.
package metrics
