// Package api is byov's HTTP JSON API: activity sessions, connectors and the
// builtin vault's accounts, plugins, the audit log and API tokens, plus an
// unauthenticated health check and Prometheus metrics. The CLI talks to it
// through host/api/client.
//
// # Routes
//
//	POST   /v1/sessions                             user   201 session; 403 Denied; connector code + session when the checkout failed
//	GET    /v1/sessions                             user   200 {sessions}: own; admin all, ?user= ?state=a,b|active ?limit=
//	GET    /v1/sessions/{id}                        user   200 session; 404 unless the requester's or the caller is admin
//	GET    /v1/sessions/{id}/credential             user   200 credential; 403 Forbidden/NoPasswordAccess/InsecureTransport; 409 NotAvailable/NoCredential
//	DELETE /v1/sessions/{id}                        user   200 ended session ({reason} optional; idempotent)
//	GET    /v1/connectors                           user   200 {connectors}
//	POST   /v1/connectors/{name}/check              admin  200 {connector, ok, findings} ({test_account} optional); 404 unknown
//	GET    /v1/connectors/{name}/accounts           admin  200 {accounts} (?domain=); 501 Unsupported without the capability
//	PUT    /v1/connectors/{name}/accounts           admin  200 {connector, account, version}
//	DELETE /v1/connectors/{name}/accounts/{account} admin  204 (account URL-escaped DOMAIN\user)
//	GET    /v1/plugins                              admin  200 {plugins}
//	POST   /v1/plugins/{type}/reload                admin  200 {plugin} ({version} optional); 502 ReloadFailed + plugin; 404 unknown type
//	GET    /v1/audit                                admin  200 {records, next_after} (?session= ?type= ?since=RFC3339|1h|7d ?after= ?limit= ?newest=)
//	GET    /v1/audit/verify                         admin  200 report (ok false for a broken chain)
//	POST   /v1/tokens                               admin  201 {token, id, name, role, user, ...}: the token shown once
//	GET    /v1/tokens                               admin  200 {tokens}, without secrets
//	DELETE /v1/tokens/{id}                          admin  200 revoked token
//	GET    /v1/sys/health                           none   200 {status ok|degraded, version, plugins, problems}; 503 when the state file is unreadable
//	GET    /metrics                                 none   200 Prometheus text
//
// Every other route needs `Authorization: Bearer <token>`. Every error is
// {"error":{"code","message","hint"}}; the codes are the Code* constants and
// the connector codes of the SDK. A connector's code says what the vault
// did, so Unauthenticated and PermissionDenied (the vault refused byov's
// service account) are 502, never 401 or 403: those are about the caller.
//
// A session whose checkout failed is answered with the connector's error and
// the failed session beside it ("session" in the error body), so that the
// caller learns both what went wrong and which session recorded it.
//
// # Audit
//
// Sessions audit themselves (host/sessions). The API adds token.create and
// token.revoke (in the same transaction as the change), plugin.swap with its
// outcome, and account.put and account.delete for the builtin vault's
// accounts, each naming the admin's user and token id. A refused token is
// logged, not audited: it acts as nobody.
//
// # Secrets
//
// A password leaves this package only in the body of the credential
// response, and an API token only in the body of the token-create response.
// The request log has the method, the route pattern, the status, the
// duration and the id of the token used, never the token, a body or a query.
// Both responses are sent with Cache-Control: no-store. Credentials are
// refused over plain HTTP on an address other than loopback (or a Unix
// socket) unless Options.AllowPlaintextCredentials says otherwise, because
// anyone on the path would read them.
//
// # Metrics
//
// The API counts checkouts itself, from the outcome of each session start
// that reached a connector (a denial or an activity that uses the
// requester's own account checks nothing out): byov_checkouts_total with
// result "ok", the connector's error code, or "cancelled", and
// byov_checkout_duration_seconds from request to available or failed. A
// checkout the host does on its own (again, after a restart) is not a
// start; the server may count it through Server.Metrics().ObserveCheckout.
// Active sessions and plugin restarts are read when /metrics is scraped.
package api
