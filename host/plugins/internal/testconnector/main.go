// Command testconnector is a connector for the host's own tests. Build-time
// knobs (-ldflags -X main.name=value) set its version, make it speak another
// protocol or crash at start; account names trigger behaviour at run time:
//
//	CORP\<user>        found: secret "<user>-secret@<instance>"
//	CORP\dup           Ambiguous
//	CRASH\now          the process dies in the middle of the call
//	HANG\forever       the call never returns, whatever its deadline
//	SLOW\<duration>    answers after the duration, honouring cancellation
//	ENV\<NAME>         returns the plugin's environment variable NAME
//
// Anything else is NotFound.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/byov/byov/sdk"
)

// Build-time knobs.
var (
	typeName     = "test"
	version      = "1.0.0"
	protocol     = "1"
	crashAtStart = ""
)

type connector struct{}

func (connector) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Type:        typeName,
		Version:     version,
		Description: "byov's test connector",
		ConfigSchema: []sdk.Attribute{
			{Name: "label", Type: sdk.TypeString, Description: "a label echoed in credentials"},
			{Name: "token", Type: sdk.TypeString, Sensitive: true, Description: "a sensitive value"},
			{Name: "must", Type: sdk.TypeBool, Description: "when false, Configure fails", Default: true},
		},
		Capabilities: []sdk.Capability{sdk.CapabilityCheckin},
	}
}

func (connector) Configure(_ context.Context, req sdk.ConfigureRequest) (sdk.Instance, error) {
	if !req.Config.Bool("must") {
		return nil, sdk.Errorf(sdk.CodeInvalidConfig, "set must = true", "instance %s: must is false", req.InstanceID)
	}
	return &instance{id: req.InstanceID, label: req.Config.String("label")}, nil
}

type instance struct {
	id    string
	label string

	mu       sync.Mutex
	checkins int
}

func (i *instance) Check(context.Context, sdk.CheckRequest) ([]sdk.Finding, error) {
	return []sdk.Finding{{Step: "self", OK: true, Message: "test connector " + version + " is fine"}}, nil
}

func (i *instance) Checkout(ctx context.Context, req sdk.CheckoutRequest) (*sdk.Credential, error) {
	secret := ""
	switch strings.ToUpper(req.Account.Domain) {
	case "CORP":
		if strings.EqualFold(req.Account.Username, "dup") {
			return nil, sdk.Errorf(sdk.CodeAmbiguous, "make the entries unique", "2 entries match CORP\\dup: ids 1, 2")
		}
		secret = req.Account.Username + "-secret@" + i.id
	case "CRASH":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "HANG":
		select {}
	case "SLOW":
		d, err := time.ParseDuration(req.Account.Username)
		if err != nil {
			return nil, sdk.Errorf(sdk.CodeNotFound, "", "bad duration")
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		secret = "slow"
	case "ENV":
		secret = os.Getenv(req.Account.Username)
	default:
		return nil, sdk.Errorf(sdk.CodeNotFound, "check the account name", "no entry for %s", req.Account)
	}
	i.mu.Lock()
	checkins := i.checkins
	i.mu.Unlock()
	return &sdk.Credential{
		Username: req.Account.String(),
		Secret:   sdk.Secret(secret),
		LeaseID:  "lease-" + req.Session.SessionID,
		Metadata: map[string]string{
			"version": version, "instance": i.id, "label": i.label,
			"pid": strconv.Itoa(os.Getpid()), "checkins": strconv.Itoa(checkins),
		},
	}, nil
}

func (i *instance) Checkin(context.Context, sdk.CheckinRequest) error {
	i.mu.Lock()
	i.checkins++
	i.mu.Unlock()
	return nil
}

func (i *instance) Close(context.Context) error { return nil }

func main() {
	if crashAtStart != "" {
		fmt.Fprintln(os.Stderr, "testconnector: crashing at start as built")
		os.Exit(3)
	}
	if protocol != "1" {
		// Speak only another protocol version, as a connector built for a
		// future host would.
		v, _ := strconv.Atoi(protocol)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.Handshake,
			VersionedPlugins: map[int]plugin.PluginSet{v: {sdk.PluginName: &sdk.GRPCPlugin{Impl: connector{}}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(connector{})
}
