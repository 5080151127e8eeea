// Package ambiguous hands out the first of several matching entries: the
// "checkout/ambiguous" case must fail.
package ambiguous

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

func (in instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	if m := in.Matches(req.Account); len(m) > 1 {
		return &sdk.Credential{Username: m[0].Username, Secret: sdk.Secret(m[0].Password)}, nil
	}
	return in.Instance.Checkout(ctx, req)
}
