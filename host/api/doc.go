// Package api is byov's HTTP JSON API: activity sessions, connectors and the
// builtin vault's accounts, plugins, the audit log and API tokens, plus an
// unauthenticated health check and Prometheus metrics. The CLI talks to it
// through host/api/client.
//
// # Routes
//
//	POST   /v1/sessions                          user   start a session (201; 403 denied)
//	GET    /v1/sessions                          user   own sessions; admin: all, ?user= ?state= ?limit=
//	GET    /v1/sessions/{id}                     user   the requester's or, for an admin, any
//	GET    /v1/sessions/{id}/credential          user   only the requester, only while available
//	DELETE /v1/sessions/{id}                     user   end it ({reason} optional)
//	GET    /v1/connectors                        user
//	POST   /v1/connectors/{name}/check           admin  {test_account?}
//	GET    /v1/connectors/{name}/accounts        admin  ?domain=
//	PUT    /v1/connectors/{name}/accounts        admin  {account, password, description, tags}
//	DELETE /v1/connectors/{name}/accounts/{account} admin (account URL-escaped)
//	GET    /v1/plugins                           admin
//	POST   /v1/plugins/{type}/reload             admin  {version?}
//	GET    /v1/audit                             admin  ?session= ?type= ?since= ?after= ?limit= ?newest=
//	GET    /v1/audit/verify                      admin
//	POST   /v1/tokens                            admin  {name, role, user, ttl} (201; the token shown once)
//	GET    /v1/tokens                            admin
//	DELETE /v1/tokens/{id}                       admin
//	GET    /v1/sys/health                        none
//	GET    /metrics                              none
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
