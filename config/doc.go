// Package config reads byov's HCL configuration (see DESIGN.md) into plain Go
// structs and reports every mistake in one pass as HCL diagnostics, each with
// its file, line, column and source line.
//
// Blocks refer to each other with references such as connector.ps-prod; the
// loader resolves them to names and checks that they exist and are of the
// right kind, so the rest of the host only ever sees names that resolve. Two
// things stay open until later: a connector's config {} block is checked
// against the schema its plugin declares (when the caller can provide it),
// and an activity's account template is kept as an expression and evaluated
// per session with the requester and the resource in scope.
package config
