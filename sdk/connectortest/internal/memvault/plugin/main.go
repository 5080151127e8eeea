// Command plugin serves memvault, so that the kit's own tests also build a
// connector from its package path as authors do with Harness.Package.
package main

import (
	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

func main() { sdk.Serve(memvault.Connector{}) }
