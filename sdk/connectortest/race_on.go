//go:build race

package connectortest

// raceEnabled is true when the tests run with -race; the kit then builds the
// plugin with -race as well, so that races in the plugin process are found.
const raceEnabled = true
