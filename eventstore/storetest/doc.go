// Package storetest is the contract every eventstore.Store backend passes.
//
// A backend's test calls Run with a function that opens a fresh store (or
// a connection to a shared server: every test uses its own stream names
// and looks only at its own events in the global log). The same suite runs
// against the embedded SQLite store and EventStoreDB, so code written
// against eventstore.Store cannot tell them apart.
package storetest
