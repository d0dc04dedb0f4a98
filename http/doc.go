// Package http is the HTTP adapter of api.md: gin routes in one table, the
// error and list envelopes, the one function that maps error kinds to status
// codes, request ids and access logs.
//
// Handlers parse and validate requests, call the application (package app,
// or the read models for lists) through small interfaces declared here, and
// render the answer. They decide nothing about billing themselves.
package http
