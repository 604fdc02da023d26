package iamodules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldViolation is one entry of a google.rpc.BadRequest: Field is a JSON path
// into the request, for example "steps[2].inputs.topic" or "data.approved".
type FieldViolation struct {
	Field       string
	Description string
}

// Error is the one error type every call of the Client returns. It keeps the gRPC
// code and the google.rpc details the service sent, so callers can branch on the
// stable Reason rather than on message text:
//
//	var e *iamodules.Error
//	if errors.As(err, &e) && e.Reason == "PIPELINE_NOT_FOUND" { ... }
//
// status.Code(err) also works, since Error carries its status.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Message is the status message from the service.
	Message string
	// Reason is the stable UPPER_SNAKE reason of the ErrorInfo detail, when there is one.
	Reason string
	// Metadata is the ErrorInfo metadata, for example {"run_id": "..."}.
	Metadata map[string]string
	// FieldViolations are the BadRequest details: which fields were wrong, and why.
	FieldViolations []FieldViolation
	// Endpoint is the address the client called.
	Endpoint string
	// Unreachable is true when no connection to Endpoint could be made at all.
	Unreachable bool

	status *status.Status
}

// GRPCStatus returns the status the call failed with, so that status.FromError
// and status.Code see through an *Error.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Error describes the failure in one line, then one line per field violation.
func (e *Error) Error() string {
	if e.Unreachable {
		return fmt.Sprintf("cannot reach the IA Modules endpoint at %s: %s (is the stack up? `ia-modules up`)", e.Endpoint, e.Message)
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s: %s", codeName(e.Code), e.Message)
	if e.Reason != "" {
		fmt.Fprintf(&text, " [%s]", e.Reason)
	}
	for _, violation := range e.FieldViolations {
		if violation.Field == "" {
			fmt.Fprintf(&text, "\n  %s", violation.Description)
		} else {
			fmt.Fprintf(&text, "\n  %s: %s", violation.Field, violation.Description)
		}
	}
	return text.String()
}

// AsError returns the *Error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// codeName is the code as the contracts and the other SDKs spell it: NOT_FOUND.
func codeName(code codes.Code) string {
	name := code.String()
	var snake strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			snake.WriteByte('_')
		}
		snake.WriteRune(r)
	}
	return strings.ToUpper(snake.String())
}

// newError wraps a failed call. connected says whether the connection was up when
// it failed: a transport failure without details on a connection that never came
// up means the endpoint could not be reached.
func newError(err error, endpoint string, connected bool) *Error {
	if err == nil {
		return nil
	}
	if e, ok := AsError(err); ok {
		return e
	}
	st := status.Convert(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		st = status.FromContextError(err)
	}
	e := &Error{Code: st.Code(), Message: st.Message(), Endpoint: endpoint, status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			if e.Reason == "" {
				e.Reason = d.GetReason()
				e.Metadata = d.GetMetadata()
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	transport := e.Code == codes.Unavailable || e.Code == codes.DeadlineExceeded
	e.Unreachable = transport && len(st.Details()) == 0 && !connected
	return e
}

// invalidArgument is a request the client refuses before sending it.
func invalidArgument(endpoint, field string, err error) *Error {
	return &Error{
		Code:            codes.InvalidArgument,
		Message:         field + ": " + err.Error(),
		Reason:          "INVALID_ARGUMENT",
		FieldViolations: []FieldViolation{{Field: field, Description: err.Error()}},
		Endpoint:        endpoint,
	}
}
