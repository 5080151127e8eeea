// Package nocheckin announces the Checkin capability but its instance does
// not implement it: the "capability/checkin" case must fail.
package nocheckin

import (
	"context"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

type Connector struct{ memvault.Connector }

func (c Connector) Metadata() sdk.Metadata {
	m := c.Connector.Metadata()
	m.Capabilities = []sdk.Capability{sdk.CapabilityCheckin}
	return m
}

func (c Connector) Configure(ctx context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	in, err := c.Connector.Configure(ctx, req)
	if err != nil {
		return nil, err
	}
	// Only the methods of sdk.Instance survive this embedding.
	return struct{ sdk.Instance }{in}, nil
}
