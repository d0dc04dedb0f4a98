//go:build tools

// Package stack pins the service's chosen dependencies in go.mod while the
// parts that use them are still to land (the EventStoreDB
// backend). Each import goes when real code imports it.
// The tools build tag keeps it out of every build.
package stack

import (
	_ "github.com/EventStore/EventStore-Client-Go/v4/esdb"
)
