// Package nofindings returns no findings from Check: the "check" case must
// fail.
package nofindings

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

func (instance) Check(context.Context, sdk.CheckRequest) ([]sdk.Finding, error) { return nil, nil }
