// Package emptyrequired runs on an empty vault when its required file
// attribute is "": the "configure/required" case must fail.
package emptyrequired

import (
	"context"

	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

type Connector struct{ memvault.Connector }

func (c Connector) Configure(ctx context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	if req.Config.String("file") == "" {
		return memvault.New(nil, req), nil
	}
	return c.Connector.Configure(ctx, req)
}
