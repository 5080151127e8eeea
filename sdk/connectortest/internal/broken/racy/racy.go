// Package racy counts checkouts in a map without a lock: the "concurrency"
// case must fail (run with -race).
package racy

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
	return &instance{Instance: in.(*memvault.Instance), counts: map[string]int{}}, nil
}

type instance struct {
	*memvault.Instance
	counts map[string]int
}

func (in *instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	in.counts[req.Account.String()]++
	return in.Instance.Checkout(ctx, req)
}
