// Package broken holds connectors that are each wrong in one way, one
// package per kit case, for the kit's own tests: every case must fail, with
// a message that says what to fix, on the connector made to break it.
// Each one is memvault with a single change.
package broken
