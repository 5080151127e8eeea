// Package leaklog writes the password it hands out to its log: the
// "secrets" case must fail.
package leaklog

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
	if err == nil {
		in.Log.Debug("checked out", "account", req.Account.String(), "password", cred.Secret.Reveal())
	}
	return cred, err
}
