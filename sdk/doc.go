// Package sdk is all a byov vault connector imports.
//
// A connector is a separate binary that the byov host starts as a child
// process over go-plugin (gRPC, mutual TLS). Its main function is one call:
//
//	func main() { sdk.Serve(myConnector{}) }
//
// The connector describes itself with Metadata (type, version, config schema,
// capabilities) and creates one Instance per `connector` block of the host's
// configuration. One process serves every instance of its type; the SDK routes
// each call to the instance named in it.
//
// Everything at this surface is plain Go; the protocol buffers stay under
// internal/. Errors that a user should act on are *Error values with a Code,
// a Message and a Hint; secrets travel as Secret, which prints as
// "[redacted]" so that a stray log line cannot leak one.
package sdk
