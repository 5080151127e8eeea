// Package connectortest is the conformance kit for byov vault connectors.
//
// One call in a connector's own tests runs a shared table of cases against
// it, the way the byov host will use it:
//
//	func TestConformance(t *testing.T) {
//		connectortest.Run(t, connectortest.Harness{
//			Package:   ".",         // or Binary: a built byov-connector-<type>
//			Connector: connector{}, // the same connector, run in process too
//			Seed: func(t testing.TB) (connectortest.Fixture, error) {
//				// create a vault with a few accounts, return its config
//			},
//			Skip: map[string]string{"checkout/ambiguous": "this vault cannot hold two entries for one account"},
//		})
//	}
//
// Every case runs twice: through a real plugin process (go-plugin over gRPC
// with mutual TLS and an empty environment, as the host starts it) and in
// process over go-plugin's gRPC test connection, which is faster to debug.
// Run it with -race: the kit then builds the plugin with the race detector
// too and fails the concurrency case when the plugin reports a data race.
//
// A failure says what to change in the connector. A case the connector
// cannot support is skipped only when Harness.Skip names it with a reason;
// the test log ends with a summary of what passed and what was skipped.
package connectortest
