package sdk

import (
	"context"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// Client is the host's handle on a connector plugin process. Every method
// names the instance it addresses; errors are *Error values.
type Client struct {
	rpc    connectorv1.ConnectorClient
	health healthpb.HealthClient
}

func newClient(conn *grpc.ClientConn) *Client {
	return &Client{rpc: connectorv1.NewConnectorClient(conn), health: healthpb.NewHealthClient(conn)}
}

// NewClient wraps a gRPC connection to a connector, for hosts and tests that
// dial one themselves.
func NewClient(conn *grpc.ClientConn) *Client { return newClient(conn) }

// Ping asks go-plugin's health service on the plugin connection. It is the
// cheapest call there is, and the floor our benchmarks compare with.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	return fromStatus(err)
}

// Metadata fetches the connector's metadata.
func (c *Client) Metadata(ctx context.Context) (Metadata, error) {
	p, err := c.rpc.GetMetadata(ctx, &connectorv1.GetMetadataRequest{})
	if err != nil {
		return Metadata{}, fromStatus(err)
	}
	m, err := metadataFromProto(p)
	if err != nil {
		return Metadata{}, Wrap(err, CodeInternal, "", "the connector's metadata has an undecodable default value")
	}
	return m, nil
}

// Configure creates or replaces an instance. config holds JSON-compatible
// values (string, float64, bool, []any of strings; durations as strings).
func (c *Client) Configure(ctx context.Context, instanceID string, config map[string]any, sa ServiceAccount) error {
	b, err := configToJSON(config)
	if err != nil {
		return Wrap(err, CodeInvalidConfig, "", "the connector config cannot be encoded")
	}
	_, err = c.rpc.Configure(ctx, &connectorv1.ConfigureRequest{
		InstanceId:     instanceID,
		ConfigJson:     b,
		ServiceAccount: &connectorv1.ServiceAccount{Username: sa.Username, Secret: sa.Secret.Reveal()},
	})
	return fromStatus(err)
}

// Unconfigure closes an instance in the plugin.
func (c *Client) Unconfigure(ctx context.Context, instanceID string) error {
	_, err := c.rpc.Unconfigure(ctx, &connectorv1.UnconfigureRequest{InstanceId: instanceID})
	return fromStatus(err)
}

// Check runs the instance's connection check.
func (c *Client) Check(ctx context.Context, instanceID string, req CheckRequest) ([]Finding, error) {
	p := &connectorv1.CheckRequest{InstanceId: instanceID}
	if !req.TestAccount.IsZero() {
		p.TestAccount = accountToProto(req.TestAccount)
	}
	resp, err := c.rpc.Check(ctx, p)
	if err != nil {
		return nil, fromStatus(err)
	}
	return findingsFromProto(resp.GetFindings()), nil
}

// Checkout takes an account's credential out of the vault.
func (c *Client) Checkout(ctx context.Context, instanceID string, req CheckoutRequest) (*Credential, error) {
	resp, err := c.rpc.Checkout(ctx, &connectorv1.CheckoutRequest{
		InstanceId: instanceID,
		Account:    accountToProto(req.Account),
		Options:    req.Options,
		Session:    sessionToProto(req.Session),
		Reason:     req.Reason,
	})
	if err != nil {
		return nil, fromStatus(err)
	}
	return credentialFromProto(resp.GetCredential()), nil
}

// Checkin tells the vault a session has ended.
func (c *Client) Checkin(ctx context.Context, instanceID string, req CheckinRequest) error {
	_, err := c.rpc.Checkin(ctx, &connectorv1.CheckinRequest{
		InstanceId: instanceID,
		Account:    accountToProto(req.Account),
		LeaseId:    req.LeaseID,
		Session:    sessionToProto(req.Session),
	})
	return fromStatus(err)
}

// Put stores a new version of an account's secret.
func (c *Client) Put(ctx context.Context, instanceID string, req PutRequest) (int64, error) {
	resp, err := c.rpc.Put(ctx, &connectorv1.PutRequest{
		InstanceId:  instanceID,
		Account:     accountToProto(req.Account),
		Secret:      req.Secret.Reveal(),
		Description: req.Description,
		Tags:        req.Tags,
	})
	if err != nil {
		return 0, fromStatus(err)
	}
	return resp.GetVersion(), nil
}

// Delete removes an account and all its versions.
func (c *Client) Delete(ctx context.Context, instanceID string, account Account) error {
	_, err := c.rpc.Delete(ctx, &connectorv1.DeleteRequest{InstanceId: instanceID, Account: accountToProto(account)})
	return fromStatus(err)
}

// List returns the accounts an instance holds, without secrets.
func (c *Client) List(ctx context.Context, instanceID string, req ListRequest) ([]AccountInfo, error) {
	resp, err := c.rpc.List(ctx, &connectorv1.ListRequest{InstanceId: instanceID, Domain: req.Domain})
	if err != nil {
		return nil, fromStatus(err)
	}
	return accountInfosFromProto(resp.GetAccounts()), nil
}
