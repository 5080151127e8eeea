// Package undescribed leaves its description and an attribute's
// description empty: the "metadata" case must fail.
package undescribed

import (
	"github.com/byov/byov/sdk"
	"github.com/byov/byov/sdk/connectortest/internal/memvault"
)

type Connector struct{ memvault.Connector }

func (c Connector) Metadata() sdk.Metadata {
	m := c.Connector.Metadata()
	m.Description = ""
	m.ConfigSchema[1].Description = ""
	return m
}
