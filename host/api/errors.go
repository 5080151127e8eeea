package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
	"github.com/byov/byov/sdk"
)

// Error codes of the API itself. Errors a connector reported keep the SDK's
// codes (sdk.CodeNotFound, sdk.CodeUnavailable, ...).
const (
	// CodeUnauthorized: the request's API token is missing or not valid.
	// (The SDK's Unauthenticated is about the vault's service account.)
	CodeUnauthorized = "Unauthorized"
	// CodeForbidden: the token may not do this (an admin route, another
	// user's session).
	CodeForbidden = "Forbidden"
	// CodeDenied: the access policy refused the session.
	CodeDenied = "Denied"
	// CodeNotFound: no such session, token, connector or route.
	CodeNotFound = "NotFound"
	// CodeInvalidRequest: the body or the query is wrong.
	CodeInvalidRequest = "InvalidRequest"
	// CodeTooLarge: the body is larger than MaxBodyBytes.
	CodeTooLarge = "RequestTooLarge"
	// CodeMethodNotAllowed: the route exists for other methods.
	CodeMethodNotAllowed = "MethodNotAllowed"
	// CodeNotAvailable: the session is not available (yet, or any more).
	CodeNotAvailable = "NotAvailable"
	// CodeNoPasswordAccess: the session's profile shows no password.
	CodeNoPasswordAccess = "NoPasswordAccess"
	// CodeNoCredential: the activity uses the requester's own account.
	CodeNoCredential = "NoCredential"
	// CodeCancelled: the session was ended while it was being provisioned.
	CodeCancelled = "Cancelled"
	// CodeInsecureTransport: a credential was asked for over plain HTTP on
	// an address other than loopback.
	CodeInsecureTransport = "InsecureTransport"
	// CodeReloadFailed: a plugin reload failed; the old version serves on.
	CodeReloadFailed = "ReloadFailed"
	// CodeTimeout: the server gave up waiting.
	CodeTimeout = "Timeout"
	// CodeInternal: a fault in byov; the server log says more.
	CodeInternal = string(sdk.CodeInternal)
)

// hintToken is the hint of every 401: the caller fixes it on its side.
const hintToken = "set BYOV_TOKEN to a valid API token (an administrator creates one with `byov token create`; `byov dev` prints one)"

// apiError is an error answer the handlers build themselves.
type apiError struct {
	status int
	ErrorDetail
	session *sessions.Session
	plugin  *plugins.Status
	// cause is logged, never sent: it may say more than the caller should
	// learn (which tokens exist, for one).
	cause error
}

func (e *apiError) Error() string { return e.Message }
func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, code, hint, message string) *apiError {
	return &apiError{status: status, ErrorDetail: ErrorDetail{Code: code, Message: message, Hint: hint}}
}

func badRequest(message, hint string) *apiError {
	return errorf(http.StatusBadRequest, CodeInvalidRequest, hint, message)
}

// sdkStatus maps a connector's code to an HTTP status. Codes that describe
// the vault refusing byov (Unauthenticated, PermissionDenied, TLS) are 502:
// the caller is fine, the upstream is not.
var sdkStatus = map[sdk.Code]int{
	sdk.CodeNotFound:         http.StatusNotFound,
	sdk.CodeAmbiguous:        http.StatusConflict,
	sdk.CodeInvalidConfig:    http.StatusBadRequest,
	sdk.CodeUnauthenticated:  http.StatusBadGateway,
	sdk.CodePermissionDenied: http.StatusBadGateway,
	sdk.CodeUnavailable:      http.StatusServiceUnavailable,
	sdk.CodeTLS:              http.StatusBadGateway,
	sdk.CodeUnsupported:      http.StatusNotImplemented,
	sdk.CodeInternal:         http.StatusInternalServerError,
}

// toAPIError turns any error a handler returns into the answer to send.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	out := &apiError{cause: err, ErrorDetail: ErrorDetail{Message: err.Error()}}
	var de *sessions.DeniedError
	switch {
	case errors.As(err, &de):
		out.status, out.Code = http.StatusForbidden, CodeDenied
		out.Hint = "ask an administrator for an access policy that allows it"
	case errors.Is(err, sessions.ErrNotFound), errors.Is(err, store.ErrNotFound):
		out.status, out.Code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, sessions.ErrForbidden):
		out.status, out.Code = http.StatusForbidden, CodeForbidden
	case errors.Is(err, sessions.ErrNotAvailable):
		out.status, out.Code = http.StatusConflict, CodeNotAvailable
		out.Hint = "see its state with `byov session show`"
	case errors.Is(err, sessions.ErrNoPasswordAccess):
		out.status, out.Code = http.StatusForbidden, CodeNoPasswordAccess
		out.Hint = "ask an administrator for a connection profile with allow_password_access"
	case errors.Is(err, sessions.ErrNoCredential):
		out.status, out.Code = http.StatusConflict, CodeNoCredential
		out.Hint = "log in with your own account"
	case errors.Is(err, sessions.ErrCancelled):
		out.status, out.Code = http.StatusConflict, CodeCancelled
	case hasSDKError(err):
		// Before the context checks: a connector's answer to a timeout is
		// more specific than the timeout.
		code := sdk.CodeOf(err)
		out.status, out.Code, out.Hint = statusOf(code), string(code), sdk.HintOf(err)
		// sdk.Error puts its hint in its text; the answer has a field for it.
		if out.Hint != "" {
			out.Message = strings.Replace(out.Message, " (hint: "+out.Hint+")", "", 1)
		}
	case errors.Is(err, context.DeadlineExceeded):
		out.status, out.Code = http.StatusGatewayTimeout, CodeTimeout
	case errors.Is(err, context.Canceled):
		// The caller went away; nobody reads this answer.
		out.status, out.Code = http.StatusRequestTimeout, CodeTimeout
	default:
		out.status, out.Code = http.StatusInternalServerError, CodeInternal
		out.Hint = "the server log has the details"
	}
	return out
}

func hasSDKError(err error) bool {
	var se *sdk.Error
	return errors.As(err, &se)
}

func statusOf(code sdk.Code) int {
	if s, ok := sdkStatus[code]; ok {
		return s
	}
	return http.StatusBadGateway
}

// writeJSON sends v. Every answer is no-store: two of them carry secrets,
// and the others describe state that changes under a cache.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"Internal","message":"the answer could not be encoded","hint":"the server log has the details"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, ErrorBody{Error: e.ErrorDetail, Session: e.session, Plugin: e.plugin})
}
