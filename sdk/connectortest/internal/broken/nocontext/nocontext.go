// Package nocontext never looks at the caller's context: the "context"
// case must fail.
package nocontext

import (
	"context"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

type Connector struct{ memvault.Connector }

func (c Connector) Configure(ctx context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	in, err := c.Connector.Configure(ctx, req)
	if err != nil {
		return nil, err
	}
	return instance{in.(*memvault.Instance)}, nil
}

type instance struct{ *memvault.Instance }

func (in instance) Checkout(_ context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	return in.Lookup(req.Account)
}
