// Package psemu is an emulator of the Netwrix Password Secure server, exactly
// the subset of PROTOCOL.md §8: API-key login, lookup of "AD User" entries and
// reading their passwords, over real HTTPS with the real wire format and the
// real cryptography (package pscrypto). Tests and `byov dev` run it in place of
// a Password Secure server; it also counts calls, keeps a logbook of secret
// reads and injects faults, so tests can assert on what a client did.
//
// # Go API (stable)
//
//	srv, err := psemu.New(psemu.Options{Seed: seed})   // or zero Options
//	err = srv.Start()                                   // listens, HTTPS
//	defer srv.Close()
//	srv.URL()        // "https://127.0.0.1:PORT/api/"
//	srv.CACertPEM()  // trust this in the client
//	srv.Database()   // the dbn every key carries
//
// Seeding: AddRole(name), AddUser(name, roles...), AddEntry(Entry) (string, error),
// CreateAPIKey(user, rights, scopes string, expiry time.Duration) (string, error)
// which returns "<JWT>:<base64 private key>" (§2), RevokeAPIKey(key), UserID(name),
// SeedAPIKeys(), SetPassword(domain, user, pw).
//
// Faults: SetLatency(d), SetSessionTTL(d), ExpireSessions(), FailNext(status, n)
// (401 or 502 on the next n requests, empty body), SetExtraRequirement(on) and
// SetUserRequirement(user, on) (PossibleAuthCredentialRequirements), expired keys
// (CreateAPIKey with a negative expiry), revoked keys (RevokeAPIKey), missing
// scope (scopes without "Passwords": lists are empty and reads get 30003),
// missing Read (Entry.ListOnly or RemoveReadRight: 30003), sealed items
// (Entry.Sealed or SealEntry: rights carry a SealId and reads get 60020),
// duplicate entries (AddEntry the same DOMAIN\username twice), reason
// required (Entry.ReasonRequired), deleted entries (Entry.Deleted).
//
// Observation: Calls("Auth/AuthenticateApiKey") and Counters() count requests per
// method (failed ones included), TotalCalls() counts round trips, ResetCounters(),
// SessionCount(), and Logbook() lists every GetContainerItemWithSecretValue with
// its user, entry, reason and outcome.
//
// # Protocol decisions
//
// Routing of {base}{Area}/{Method} ignores case. A WebService call without a
// valid token2 + ApiKeyToken pair, or with an expired session, gets 401 and an
// empty body; a forbidden read gets 500 {"ExceptionCode":30003,"message":…}.
// A malformed JWT or a wrong dbn gets 500 {"ExceptionCode":0,"message":
// "Malformed API key"}; an expired or revoked key, a bad challenge signature or
// a reused login SessionId get 200 AuthenticationResultLoginFailed. $type names
// are the vendor's long forms unless Options.ShortTypes. Secret item values are
// null except in GetContainerItemWithSecretValue.
//
// The JWT is HS256 with the emulator's secret and carries, besides the §2
// claims, "jti" (the key id, for revocation) and "apk" (the public half of the
// key), so a key minted by `psemu key create` works with any emulator sharing
// the secret: the seed's jwt_secret, else one derived from the seed file's
// bytes. Anyone holding the seed file can therefore mint keys; it is a test
// tool. Users' and roles' key pairs are generated at start.
//
// # Seed file (JSON)
//
//	{
//	  "database":   "byov",                  // optional, default "byov"
//	  "jwt_secret": "…",                     // optional, see above
//	  "roles": [ {"name": "PAM readers"} ],
//	  "users": [ {"name": "NPS", "roles": ["PAM readers"], "pending_requirement": false} ],
//	  "api_keys": [ {"name": "nps", "user": "NPS", "rights": "Read", "scopes": "Passwords",
//	                 "expires": "720h", "revoked": false} ],
//	  "entries": [ {"domain": "CORP", "username": "adm-alice", "password": "S3cret!",
//	                "description": "CORP\\adm-alice",      // default DOMAIN\username
//	                "readers": ["NPS"],                    // users or roles; default all users
//	                "list_only": [], "reason_required": false, "sealed": false, "deleted": false} ]
//	}
//
// Unknown fields are refused. Roles come before users, users before entries
// and keys, in that order.
//
// The emulator never logs bodies, headers, keys or passwords: the optional
// slog logger gets the method, the call name, the status and the duration.
package psemu
