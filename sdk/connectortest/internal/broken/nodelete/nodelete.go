// Package nodelete says Delete worked but keeps the account: the
// "capability/accounts" case must fail.
package nodelete

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

func (instance) Delete(context.Context, sdk.Account) error { return nil }
