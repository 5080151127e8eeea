package sdk

import (
	"errors"
	"fmt"
)

// Code classifies a connector error so that the host can react to it and a
// user can tell what to fix.
type Code string

const (
	// CodeNotFound: the vault has no entry for the account.
	CodeNotFound Code = "NotFound"
	// CodeAmbiguous: several entries match the account.
	CodeAmbiguous Code = "Ambiguous"
	// CodeInvalidConfig: the instance's configuration is wrong.
	CodeInvalidConfig Code = "InvalidConfig"
	// CodeUnauthenticated: the vault refused the service account's login.
	CodeUnauthenticated Code = "Unauthenticated"
	// CodePermissionDenied: logged in, but not allowed to read the entry.
	CodePermissionDenied Code = "PermissionDenied"
	// CodeUnavailable: the vault (or the connector plugin) cannot be reached.
	CodeUnavailable Code = "Unavailable"
	// CodeTLS: the TLS handshake with the vault failed.
	CodeTLS Code = "TLS"
	// CodeInternal: a fault in the connector itself.
	CodeInternal Code = "Internal"
	// CodeUnsupported: the call needs a capability the connector does not
	// announce, or a protocol feature it does not have.
	CodeUnsupported Code = "Unsupported"
)

// ErrPluginUnreachable is the cause of an *Error the host gets when the
// connector process itself failed the call (it crashed, was killed or its
// connection broke), as opposed to an error the connector reported.
var ErrPluginUnreachable = errors.New("the connector plugin process is unreachable")

// Codes lists every code, in the order of the documentation.
var Codes = []Code{
	CodeNotFound, CodeAmbiguous, CodeInvalidConfig, CodeUnauthenticated,
	CodePermissionDenied, CodeUnavailable, CodeTLS, CodeInternal, CodeUnsupported,
}

// Error is an error a connector reports to the host. Message says what went
// wrong and Hint what to do about it. Neither may contain a secret: both are
// shown to users and written to the audit log.
type Error struct {
	Code    Code
	Message string
	Hint    string
	// cause is kept on this side of the wire only, for errors.Is and As.
	cause error
}

// Error returns the message, followed by the hint when there is one.
func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + " (hint: " + e.Hint + ")"
}

// Unwrap returns the cause, if the error was made with Wrap.
func (e *Error) Unwrap() error { return e.cause }

// Errorf returns an *Error with the given code and hint, and a message made
// as with fmt.Sprintf.
func Errorf(code Code, hint, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// Wrap returns an *Error that keeps cause for errors.Is and errors.As on this
// side of the wire. Only message and hint cross to the host.
func Wrap(cause error, code Code, hint, message string) *Error {
	return &Error{Code: code, Message: message, Hint: hint, cause: cause}
}

// CodeOf returns the code of the first *Error in err's chain, CodeInternal
// for another non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// HintOf returns the hint of the first *Error in err's chain, or "".
func HintOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
