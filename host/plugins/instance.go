package plugins

import (
	"context"

	"github.com/byov/byov/sdk"
)

// Instance is the host's handle on one configured connector instance. Its
// calls go to whichever process serves the type at the time.
type Instance struct {
	p  *Plugin
	id string
}

// ID returns the instance id (the connector block's name).
func (i *Instance) ID() string { return i.id }

// Plugin returns the instance's supervisor.
func (i *Instance) Plugin() *Plugin { return i.p }

// Err returns why the instance cannot serve, if its configuration was
// refused; nil when it is fine or its process is merely restarting.
func (i *Instance) Err() error { return i.p.instanceError(i.id) }

// call runs fn on the type's serving process for this instance.
func (i *Instance) call(ctx context.Context, fn func(ctx context.Context, c *sdk.Client) error) error {
	return i.p.call(ctx, i.id, fn)
}

// Checkout takes an account's credential out of the vault.
func (i *Instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (cred *sdk.Credential, err error) {
	err = i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		cred, err = c.Checkout(ctx, i.id, req)
		return err
	})
	return cred, err
}

// Checkin tells the vault a session has ended. A connector without the
// capability needs nothing, so that is not an error.
func (i *Instance) Checkin(ctx context.Context, req sdk.CheckinRequest) error {
	if meta, err := i.p.Metadata(); err == nil && !meta.Has(sdk.CapabilityCheckin) {
		return nil
	}
	return i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		return c.Checkin(ctx, i.id, req)
	})
}

// Check runs the instance's connection check.
func (i *Instance) Check(ctx context.Context, req sdk.CheckRequest) (findings []sdk.Finding, err error) {
	err = i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		findings, err = c.Check(ctx, i.id, req)
		return err
	})
	return findings, err
}

// Put stores a new version of an account's secret.
func (i *Instance) Put(ctx context.Context, req sdk.PutRequest) (version int64, err error) {
	err = i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		version, err = c.Put(ctx, i.id, req)
		return err
	})
	return version, err
}

// Delete removes an account.
func (i *Instance) Delete(ctx context.Context, account sdk.Account) error {
	return i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		return c.Delete(ctx, i.id, account)
	})
}

// List returns the accounts the instance holds, without secrets.
func (i *Instance) List(ctx context.Context, req sdk.ListRequest) (infos []sdk.AccountInfo, err error) {
	err = i.call(ctx, func(ctx context.Context, c *sdk.Client) error {
		infos, err = c.List(ctx, i.id, req)
		return err
	})
	return infos, err
}

// Ping runs the bare health check on the serving process; benchmarks use it
// as the floor that checkouts are compared with.
func (i *Instance) Ping(ctx context.Context) error {
	return i.call(ctx, func(ctx context.Context, c *sdk.Client) error { return c.Ping(ctx) })
}
