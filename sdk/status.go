package sdk

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// grpcCodes maps our codes onto the nearest gRPC code, for tools that only
// read the status; the exact code travels in an ErrorDetail.
var grpcCodes = map[Code]codes.Code{
	CodeNotFound:         codes.NotFound,
	CodeAmbiguous:        codes.FailedPrecondition,
	CodeInvalidConfig:    codes.InvalidArgument,
	CodeUnauthenticated:  codes.Unauthenticated,
	CodePermissionDenied: codes.PermissionDenied,
	CodeUnavailable:      codes.Unavailable,
	CodeTLS:              codes.Unavailable,
	CodeInternal:         codes.Internal,
	CodeUnsupported:      codes.Unimplemented,
}

// toStatus turns a connector's error into a gRPC status error. A context
// error keeps its own gRPC code so the host can tell a deadline from a
// vault failure; a plain error becomes Internal with its text.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, err.Error())
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, err.Error())
		}
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	gc, ok := grpcCodes[e.Code]
	if !ok {
		gc = codes.Unknown
	}
	st, derr := status.New(gc, e.Message).WithDetails(&connectorv1.ErrorDetail{
		Code: string(e.Code), Message: e.Message, Hint: e.Hint,
	})
	if derr != nil {
		return status.Error(gc, e.Message)
	}
	return st.Err()
}

// fromStatus turns a gRPC error from the plugin into an *Error. A status
// without our detail comes from the transport or from go-plugin itself.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: CodeUnavailable, Message: "the connector plugin could not be reached: " + err.Error(), cause: ErrPluginUnreachable}
	}
	for _, d := range st.Details() {
		if detail, ok := d.(*connectorv1.ErrorDetail); ok {
			return &Error{Code: Code(detail.GetCode()), Message: detail.GetMessage(), Hint: detail.GetHint()}
		}
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		return &Error{Code: CodeUnavailable, Message: "the connector did not answer before the deadline",
			Hint: "the vault may be slow or unreachable; run `byov connector check`", cause: context.DeadlineExceeded}
	case codes.Canceled:
		return &Error{Code: CodeUnavailable, Message: "the call to the connector was cancelled", cause: context.Canceled}
	case codes.Unimplemented:
		return &Error{Code: CodeUnsupported, Message: "the connector plugin does not implement this call: " + st.Message(),
			Hint: "the connector was built with an older SDK; update it"}
	case codes.Unavailable:
		return &Error{Code: CodeUnavailable, Message: "the connector plugin is unreachable: " + st.Message(), cause: ErrPluginUnreachable}
	}
	return &Error{Code: CodeInternal, Message: st.Message(), cause: err}
}
