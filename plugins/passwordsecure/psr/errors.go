package psr

import (
	"errors"
	"fmt"
)

// Kind classifies a failure by what the operator has to do about it. The
// connector maps kinds to SDK error codes; tests assert on them.
type Kind int

const (
	// KindInternal is a fault in this client or an answer it cannot read.
	KindInternal Kind = iota
	// KindConfig: the client options are wrong (api_url, ca_file).
	KindConfig
	// KindUnreachable: no TCP connection to the vault (DNS, refused, timeout).
	KindUnreachable
	// KindUnavailable: the vault answered but cannot serve now (502, 503, 5xx).
	KindUnavailable
	// KindTLS: the TLS handshake failed (unknown authority, name mismatch).
	KindTLS
	// KindHTTPPath: the web server does not know the API path (404).
	KindHTTPPath
	// KindAPIKey: the API key is malformed, expired or rejected.
	KindAPIKey
	// KindExtraRequirement: the login asks for a step an API key cannot
	// satisfy (MFA, a pending configuration).
	KindExtraRequirement
	// KindPermission: logged in, but the key or its user may not read the
	// entry (access rights, scope, no right key).
	KindPermission
	// KindSealed: the entry is sealed and needs a release.
	KindSealed
	// KindNotFound: no entry matches the account.
	KindNotFound
	// KindAmbiguous: several entries match the account.
	KindAmbiguous
)

var kindNames = [...]string{
	KindInternal: "internal", KindConfig: "config", KindUnreachable: "unreachable",
	KindUnavailable: "unavailable", KindTLS: "tls", KindHTTPPath: "http-path",
	KindAPIKey: "api-key", KindExtraRequirement: "extra-requirement",
	KindPermission: "permission", KindSealed: "sealed", KindNotFound: "not-found",
	KindAmbiguous: "ambiguous",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is every failure this package reports. Message says what happened and
// Hint what to do; neither ever holds the API key, a session key, a private
// key or a password, because both end up in logs and user interfaces.
type Error struct {
	Kind    Kind
	Message string
	Hint    string
	// Candidates holds the entry ids of an ambiguous match.
	Candidates []string
	// ExceptionCode is the server's PsrApiExceptionCode, when it sent one.
	ExceptionCode int
	// transient marks failures worth a retry (reset, 502, 503).
	transient bool
	// status is the HTTP status that caused the error, 0 for none.
	status int
	cause  error
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + " (hint: " + e.Hint + ")"
}

func (e *Error) Unwrap() error { return e.cause }

// Is lets callers test with errors.Is(err, psr.ErrNotFound) and friends.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is; they match any *Error of their kind.
var (
	ErrNotFound         = &Error{Kind: KindNotFound}
	ErrAmbiguous        = &Error{Kind: KindAmbiguous}
	ErrSealed           = &Error{Kind: KindSealed}
	ErrPermission       = &Error{Kind: KindPermission}
	ErrAPIKey           = &Error{Kind: KindAPIKey}
	ErrExtraRequirement = &Error{Kind: KindExtraRequirement}
	ErrUnreachable      = &Error{Kind: KindUnreachable}
	ErrTLS              = &Error{Kind: KindTLS}
	ErrHTTPPath         = &Error{Kind: KindHTTPPath}
)

// KindOf returns the kind of the first *Error in err's chain, KindInternal
// for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

func newError(kind Kind, cause error, hint, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Hint: hint, cause: cause}
}
