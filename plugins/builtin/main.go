// Command byov-connector-builtin is byov's own vault: a connector plugin that
// keeps accounts and their passwords in an encrypted SQLite file (package
// vaultstore), so that byov works with no external vault at all. The host
// starts it like any third-party connector, and one process serves every
// `connector` block of type "builtin", each with its own file and key.
//
// Besides Checkout it announces the Checkin capability (with optional
// rotate-on-checkin) and the Accounts capability (Put, Delete, List), which
// `byov vault put|list|delete` use through the host API.
//
// Rotation replaces the password stored in this vault with a new random one;
// changing the password on the target system itself is out of scope. Turn
// rotate_on_checkin on only where something else applies the new password
// to the target, or the vault and the target drift apart.
package main

import "github.com/byov/byov/sdk"

func main() { sdk.Serve(connector{}) }
