// Package leakfail reports an absent account as Internal with the service
// account's secret in the message: "checkout/not-found" and the cases that
// expect NotFound fail, and their failure texts must not print the secret
// (only the "secrets" case reports it, masked).
package leakfail

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
		return nil, sdk.Errorf(sdk.CodeInternal, "", "lookup of %s as %s with key %s failed",
			req.Account, in.Req.ServiceAccount.Username, in.Req.ServiceAccount.Secret.Reveal())
	}
	return cred, err
}
