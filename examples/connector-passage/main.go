// Command byov-connector-passage is a byov vault connector for passage, the
// age-encrypted variant of pass: a store directory holding one <path>.age
// file per entry, the password on its first line, decrypted with the age
// identities in an identities file.
//
// It is an example of a third-party connector, written only against the
// public SDK (github.com/byov/byov/sdk). Build it as
// byov-connector-passage_0.1.0, drop it into the host's plugin_dir, lock and
// reload it; see docs/connector-authors.md.
//
// An account DOMAIN\user becomes an entry path through path_template,
// "{domain}/{user}" by default, lower-cased: CORP\Alice reads
// <store_dir>/corp/alice.age. A path maps to one file, so a checkout can
// never be ambiguous.
package main

import "github.com/byov/byov/sdk"

func main() { sdk.Serve(Connector{}) }
