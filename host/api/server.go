package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/byov/byov/host/sessions"
	"github.com/byov/byov/host/store"
)

// access is who may call a route.
type access int

const (
	public access = iota
	anyToken
	adminOnly
)

// caller is who sent an authenticated request.
type caller struct {
	token store.Token
	actor sessions.Actor
}

// handlerFunc serves a route; an error it returns becomes the JSON error
// answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c caller) error

// reqInfo travels in a request's context from the outer middleware to the
// route, which fills it in for the request log and the metrics.
type reqInfo struct {
	route   string
	tokenID string
}

type reqInfoKey struct{}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.route("POST /v1/sessions", anyToken, s.startSession)
	s.route("GET /v1/sessions", anyToken, s.listSessions)
	s.route("GET /v1/sessions/{id}", anyToken, s.getSession)
	s.route("GET /v1/sessions/{id}/credential", anyToken, s.credential)
	s.route("DELETE /v1/sessions/{id}", anyToken, s.endSession)

	s.route("GET /v1/connectors", anyToken, s.listConnectors)
	s.route("POST /v1/connectors/{name}/check", adminOnly, s.checkConnector)
	s.route("GET /v1/connectors/{name}/accounts", adminOnly, s.listAccounts)
	s.route("PUT /v1/connectors/{name}/accounts", adminOnly, s.putAccount)
	s.route("DELETE /v1/connectors/{name}/accounts/{account}", adminOnly, s.deleteAccount)

	s.route("GET /v1/plugins", adminOnly, s.listPlugins)
	s.route("POST /v1/plugins/{type}/reload", adminOnly, s.reloadPlugin)

	s.route("GET /v1/audit", adminOnly, s.queryAudit)
	s.route("GET /v1/audit/verify", adminOnly, s.verifyAudit)

	s.route("POST /v1/tokens", adminOnly, s.createToken)
	s.route("GET /v1/tokens", adminOnly, s.listTokens)
	s.route("DELETE /v1/tokens/{id}", adminOnly, s.revokeToken)

	s.route("GET /v1/sys/health", public, s.health)
	s.route("GET /metrics", public, s.serveMetrics)

	s.mux.HandleFunc("/", s.noRoute)
	s.handler = s.observe(s.mux)
}

// route registers h under pattern behind authentication, the role check and
// the body limit.
func (s *Server) route(pattern string, who access, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info, _ := r.Context().Value(reqInfoKey{}).(*reqInfo)
		if info != nil {
			info.route = pattern
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		var c caller
		if who != public {
			var err error
			c, err = s.authenticate(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if info != nil {
				info.tokenID = c.token.ID
			}
			if who == adminOnly && !c.actor.Admin {
				s.fail(w, r, errorf(http.StatusForbidden, CodeForbidden,
					"ask an administrator, or use an admin token",
					fmt.Sprintf("%s needs an admin token; token %s of %s has the role %s", pattern, c.token.ID, c.token.User, c.token.Role)))
				return
			}
		}
		if err := h(w, r, c); err != nil {
			s.fail(w, r, err)
		}
	})
}

// authenticate checks the bearer token. Every failure reads the same to the
// caller, so that answers do not tell which tokens exist; the log has the
// difference.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return caller{}, errorf(http.StatusUnauthorized, CodeUnauthorized, hintToken,
			"this request needs an API token in the Authorization header")
	}
	scheme, presented, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(presented) == "" {
		return caller{}, errorf(http.StatusUnauthorized, CodeUnauthorized, hintToken,
			"the Authorization header must be \"Bearer <token>\"")
	}
	tok, err := s.opts.Store.LookupToken(r.Context(), strings.TrimSpace(presented), s.opts.Now())
	if err != nil {
		if !errors.Is(err, store.ErrTokenInvalid) && !errors.Is(err, store.ErrTokenExpired) && !errors.Is(err, store.ErrTokenRevoked) {
			return caller{}, fmt.Errorf("cannot check the API token: %w", err)
		}
		e := errorf(http.StatusUnauthorized, CodeUnauthorized, hintToken, "the API token is not valid, has expired or was revoked")
		e.cause = err
		return caller{}, e
	}
	return caller{token: tok, actor: sessions.Actor{Name: tok.User, Admin: tok.Role == store.RoleAdmin}}, nil
}

// fail sends err as the JSON error answer and logs what the caller is not
// told.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	switch {
	case e.status >= 500:
		s.log.Error("request failed", "method", r.Method, "route", routeOf(r), "status", e.status, "error", err)
	case e.cause != nil && e.status == http.StatusUnauthorized:
		s.log.Info("request refused", "method", r.Method, "route", routeOf(r), "reason", e.cause)
	}
	writeError(w, e)
}

func routeOf(r *http.Request) string {
	if info, _ := r.Context().Value(reqInfoKey{}).(*reqInfo); info != nil && info.route != "" {
		return info.route
	}
	return "unmatched"
}

// noRoute answers paths no route matches: 405 with Allow when the path
// exists for other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "use "+strings.Join(allow, " or "),
			fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)))
		return
	}
	writeError(w, errorf(http.StatusNotFound, CodeNotFound, "the routes are listed in the documentation of host/api",
		fmt.Sprintf("there is no API route %s %s", r.Method, r.URL.Path)))
}

// statusWriter remembers the status for the log and the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs and counts every request, and turns a panic into a 500
// instead of a dropped connection.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("request handler panicked", "method", r.Method, "route", routeOf(r), "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeError(sw, errorf(http.StatusInternalServerError, CodeInternal, "the server log has the details",
						"the server failed while answering this request"))
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			route := info.route
			if route == "" {
				route = "unmatched"
			}
			s.metrics.observeRequest(route, sw.status)
			// Only these fields: a path may hold an account name and a query
			// a user's, and neither the token nor a body is ever logged.
			args := []any{"method", r.Method, "route", route, "status", sw.status, "duration", time.Since(start)}
			if info.tokenID != "" {
				args = append(args, "token_id", info.tokenID)
			}
			if route == "GET /metrics" || route == "GET /v1/sys/health" {
				s.log.Debug("request", args...)
			} else {
				s.log.Info("request", args...)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// decode reads a JSON body into v. An empty body is fine when optional.
func decode(r *http.Request, v any, optional bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// One object per request: trailing data is a client bug worth naming.
		var extra json.RawMessage
		if err2 := dec.Decode(&extra); !errors.Is(err2, io.EOF) {
			if tooLarge(err2) {
				return errTooLarge()
			}
			return badRequest("the request body has more after its JSON object", "send exactly one JSON object")
		}
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		if optional {
			return nil
		}
		return badRequest("the request needs a JSON body", "send a JSON object with the fields "+fieldList(v))
	case tooLarge(err):
		return errTooLarge()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("the request body has an unknown field "+field, "this route accepts the fields "+fieldList(v))
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: "+err.Error(), "send a JSON object with the fields "+fieldList(v))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("the request body must be a JSON object", "send a JSON object with the fields "+fieldList(v))
		}
		return badRequest(fmt.Sprintf("the field %s must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type), typ.Value), "")
	default:
		return badRequest("cannot read the request body: "+err.Error(), "")
	}
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func errTooLarge() *apiError {
	return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "no request to this API needs that much",
		fmt.Sprintf("the request body is larger than %d KiB", MaxBodyBytes>>10))
}

// fieldList names the JSON fields of the struct v points to.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "documented for it"
	}
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "number"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array"
	}
	return t.String()
}

// queryInt reads a non-negative integer query parameter.
func queryInt(r *http.Request, name string, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || (max > 0 && n > max) {
		bound := ""
		if max > 0 {
			bound = fmt.Sprintf(" up to %d", max)
		}
		return 0, badRequest(fmt.Sprintf("the query parameter %s=%q is not a whole number%s", name, v, bound), "")
	}
	return n, nil
}

// plaintextAllowed says whether a credential may go over this request's
// connection.
func (s *Server) plaintextAllowed(r *http.Request) bool {
	if s.allowPlaintext.Load() || s.opts.TLS || s.opts.Loopback || r.TLS != nil {
		return true
	}
	// The connection itself decides too: a server the wiring did not call
	// loopback may still be reached through a loopback or Unix listener.
	switch a := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	}
	return false
}

// knownStates lists the session states a ?state= filter may name.
var knownStates = []sessions.State{sessions.StatePending, sessions.StateProvisioning, sessions.StateAvailable,
	sessions.StateEnding, sessions.StateCompleted, sessions.StateFailed, sessions.StateCancelled}

func parseStates(v string) ([]sessions.State, error) {
	if v == "" {
		return nil, nil
	}
	var out []sessions.State
	for part := range strings.SplitSeq(v, ",") {
		st := sessions.State(strings.ToLower(strings.TrimSpace(part)))
		if st == "" {
			continue
		}
		if st == "active" {
			// The states of a session that is not over yet.
			out = append(out, sessions.OpenStates...)
			continue
		}
		if !slices.Contains(knownStates, st) {
			names := make([]string, len(knownStates))
			for i, k := range knownStates {
				names[i] = string(k)
			}
			return nil, badRequest(fmt.Sprintf("there is no session state %q", part), "use one of "+strings.Join(names, ", ")+" or active, separated by commas")
		}
		out = append(out, st)
	}
	return out, nil
}
