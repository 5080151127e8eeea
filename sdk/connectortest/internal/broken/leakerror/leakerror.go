// Package leakerror quotes the service account's secret in its NotFound
// message: the "secrets" case must fail.
package leakerror

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
	cred, err := in.Instance.Checkout(ctx, req)
	if sdk.CodeOf(err) == sdk.CodeNotFound {
		return nil, sdk.Errorf(sdk.CodeNotFound, "", "no entry for %s (searched as %s with key %s)",
			req.Account, in.Req.ServiceAccount.Username, in.Req.ServiceAccount.Secret.Reveal())
	}
	return cred, err
}
