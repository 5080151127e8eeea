// Package notfound reports an absent account as a plain error, which the
// host sees as Internal: the "checkout/not-found" case must fail.
package notfound

import (
	"context"
	"errors"

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
	cred, err := in.Instance.Checkout(ctx, req)
	if sdk.CodeOf(err) == sdk.CodeNotFound {
		return nil, errors.New("lookup failed")
	}
	return cred, err
}
