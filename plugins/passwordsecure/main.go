// Command byov-connector-passwordsecure is the byov vault connector for
// Netwrix Password Secure. The byov host starts it as a plugin; it checks
// "AD User" entries out by DOMAIN\username, logging in with the service
// account's API key. The wire protocol lives in package psr.
package main

import "github.com/byov/byov/sdk"

func main() { sdk.Serve(connector{}) }
