package psemu

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Addr is the listen address; "" means 127.0.0.1:0 (a random port).
	Addr string
	// BasePath is the URL prefix of the API, default "/api/".
	BasePath string
	// Database is the database name (the dbn claim), default "byov".
	// A seed's database name wins over the default but not over this field.
	Database string
	// CertFile and KeyFile serve a given certificate; empty means a fresh
	// self-signed certificate for 127.0.0.1, ::1, localhost and Hosts.
	CertFile, KeyFile string
	// Hosts are extra DNS names or IPs for the self-signed certificate.
	Hosts []string
	// JWTSecret signs API-key JWTs and challenges. Empty means the seed's
	// secret, or one derived from the seed file, or a random one.
	JWTSecret []byte
	// SessionTTL is how long a session lives; 0 means until CloseSession.
	SessionTTL time.Duration
	// BOM prefixes every JSON response with a UTF-8 byte-order mark.
	BOM bool
	// ShortTypes writes short $type names ("MtoContainer") instead of the
	// vendor's long ones, like the Go port does.
	ShortTypes bool
	// Logger receives one line per request (method, status, duration); it
	// never sees bodies, headers or keys. Nil means no logging.
	Logger *slog.Logger
	// Seed is loaded into the server by New.
	Seed *Seed
}

// LogbookEntry records one GetContainerItemWithSecretValue call.
type LogbookEntry struct {
	Time        time.Time
	User        string // user name
	ItemID      string
	ContainerID string
	Entry       string // DOMAIN\username of the entry
	Reason      string
	Granted     bool
	Denial      string // why it was refused, when not Granted
}

// Server is the emulated Password Secure server.
type Server struct {
	opts     Options
	base     string // lower-case, with leading and trailing slash
	secret   []byte
	database string
	log      *slog.Logger

	tlsConf  *tls.Config
	caPEM    []byte
	listener net.Listener
	http     *http.Server
	url      string

	mu        sync.Mutex
	users     map[string]*legitimate // by id
	roles     map[string]*legitimate // by id
	keys      map[string]*apiKey     // by jti
	revoked   map[string]bool        // jti
	pending   map[string]*pendingLogin
	sessions  map[string]*session
	conts     []*container
	formID    string
	seedKeys  map[string]string
	logbook   []LogbookEntry
	counters  map[string]int
	total     int
	latency   time.Duration
	ttl       time.Duration
	failCode  int
	failCount int
	extraReq  bool
}

// routes maps lower-case "area/method" to the canonical name used in counters.
var routes = map[string]string{}

func init() {
	for _, n := range []string{
		"Auth/AuthenticateApiKey", "Auth/AuthenticateUserKeySignatureCredential",
		"WebService/GetContainerListFilter", "WebService/GetContainerList", "WebService/GetContainer",
		"WebService/GetLegitimateDataRights", "WebService/GetContainerItemWithSecretValue", "WebService/CloseSession",
	} {
		routes[strings.ToLower(n)] = n
	}
}

// New builds a server and loads opts.Seed. It does not listen yet: call Start.
func New(opts Options) (*Server, error) {
	s := &Server{
		opts:     opts,
		users:    map[string]*legitimate{},
		roles:    map[string]*legitimate{},
		keys:     map[string]*apiKey{},
		revoked:  map[string]bool{},
		pending:  map[string]*pendingLogin{},
		sessions: map[string]*session{},
		counters: map[string]int{},
		seedKeys: map[string]string{},
		formID:   newGUID(),
		ttl:      opts.SessionTTL,
		log:      opts.Logger,
	}
	base := opts.BasePath
	if base == "" {
		base = "/api/"
	}
	s.base = "/" + strings.Trim(strings.ToLower(base), "/") + "/"
	if s.base == "//" {
		s.base = "/"
	}
	s.database = "byov"
	if opts.Seed != nil && opts.Seed.Database != "" {
		s.database = opts.Seed.Database
	}
	if opts.Database != "" {
		s.database = opts.Database
	}
	switch {
	case len(opts.JWTSecret) > 0:
		s.secret = bytes.Clone(opts.JWTSecret)
	case opts.Seed != nil && opts.Seed.JWTSecret != "":
		s.secret = []byte(opts.Seed.JWTSecret)
	case opts.Seed != nil && len(opts.Seed.fileHash) > 0:
		// Derived from the seed file so `psemu key create` and `psemu serve`
		// on the same file agree without a shared secret being written down.
		h := sha256.Sum256(append([]byte("psemu jwt secret\x00"), opts.Seed.fileHash...))
		s.secret = h[:]
	default:
		s.secret = make([]byte, 32)
		rand.Read(s.secret)
	}
	if opts.Seed != nil {
		if err := s.applySeed(opts.Seed); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start listens and serves HTTPS in the background.
func (s *Server) Start() error {
	if err := s.setupTLS(); err != nil {
		return err
	}
	addr := s.opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the emulator cannot listen on %s: %w", addr, err)
	}
	s.listener = ln
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.url = "https://" + net.JoinHostPort(host, port) + s.base
	s.http = &http.Server{
		Handler:           s,
		TLSConfig:         s.tlsConf,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	go s.http.Serve(tls.NewListener(ln, s.tlsConf))
	return nil
}

// URL is the API base URL, such as https://127.0.0.1:41234/api/ (valid after Start).
func (s *Server) URL() string { return s.url }

// CACertPEM is the PEM of the certificate a client must trust (after Start).
func (s *Server) CACertPEM() []byte { return bytes.Clone(s.caPEM) }

// Database is the database name clients must use.
func (s *Server) Database() string { return s.database }

// Close stops the server and drops every connection.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		return s.http.Close()
	}
	return nil
}

func (s *Server) setupTLS() error {
	if s.opts.CertFile != "" || s.opts.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.opts.CertFile, s.opts.KeyFile)
		if err != nil {
			return fmt.Errorf("loading the certificate %s and key %s: %w", s.opts.CertFile, s.opts.KeyFile, err)
		}
		for _, der := range cert.Certificate {
			s.caPEM = append(s.caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		}
		s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the certificate key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "psemu Password Secure emulator"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range s.opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("creating the self-signed certificate: %w", err)
	}
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.tlsConf = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
	return nil
}

// --- faults and observation ---

// SetLatency delays every request by d before it is handled.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// SetSessionTTL sets the lifetime of sessions created from now on (0: none).
func (s *Server) SetSessionTTL(d time.Duration) { s.mu.Lock(); s.ttl = d; s.mu.Unlock() }

// ExpireSessions ends every session now, as a server restart or timeout
// would; the next data call of each client gets 401.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*session{}
	s.pending = map[string]*pendingLogin{}
}

// FailNext answers the next n requests, whatever they are, with the given
// HTTP status (401 and 502 are the interesting ones) and an empty body.
func (s *Server) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failCount = status, n
}

// SetExtraRequirement makes every login answer PossibleAuthCredentialRequirements
// (§3.6), as when MFA is enforced; SetUserRequirement does it for one user.
func (s *Server) SetExtraRequirement(on bool) { s.mu.Lock(); s.extraReq = on; s.mu.Unlock() }

// Calls returns how many requests reached a method, named like
// "Auth/AuthenticateApiKey" or "WebService/GetContainerList" (any case).
// Requests answered by FailNext count too; unknown paths do not.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[routes[strings.ToLower(method)]]
}

// Counters returns a copy of the per-method request counters.
func (s *Server) Counters() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counters))
	for k, v := range s.counters {
		out[k] = v
	}
	return out
}

// TotalCalls is the number of API requests (round trips) so far.
func (s *Server) TotalCalls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.total }

// ResetCounters zeroes the counters (not the logbook).
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[string]int{}
	s.total = 0
}

// Logbook returns every secret read attempt so far, oldest first.
func (s *Server) Logbook() []LogbookEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogbookEntry(nil), s.logbook...)
}

// SessionCount is the number of live sessions.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, se := range s.sessions {
		if se.expires.IsZero() || time.Now().Before(se.expires) {
			n++
		}
	}
	return n
}

// SessionKeys returns the session keys of the live sessions. They are
// secrets: tests use them to check that no log line or error holds one.
func (s *Server) SessionKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, se := range s.sessions {
		if se.expires.IsZero() || time.Now().Before(se.expires) {
			out = append(out, se.key)
		}
	}
	return out
}

// --- HTTP ---

// errorBody is the §1.4 500 body.
type errorBody struct {
	ExceptionCode int    `json:"ExceptionCode"`
	Message       string `json:"message"`
}

// apiError is what a handler returns to produce a 500 with an ExceptionCode,
// or another status with an empty body.
type apiError struct {
	status int
	code   int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

const (
	excNone              = 0
	excInsufficientRight = 30003
	excNoKey             = 30011
	excSealNotBroken     = 60020
)

func fail(code int, msg string) error { return &apiError{status: 500, code: code, msg: msg} }

var errUnauthorized = &apiError{status: http.StatusUnauthorized}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// ServeHTTP routes {base}{Area}/{Method} case-insensitively, as IIS does.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw, status: 200}
	name := s.route(r.URL.Path)
	defer func() {
		if s.log != nil {
			s.log.Info("request", "method", r.Method, "call", name, "status", w.status, "duration", time.Since(start).Round(time.Microsecond))
		}
	}()
	if name == "" {
		http.Error(w, "no such API method", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	s.counters[name]++
	s.total++
	latency := s.latency
	failCode := 0
	if s.failCount > 0 {
		s.failCount--
		failCode = s.failCode
	}
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if failCode != 0 {
		w.WriteHeader(failCode)
		return
	}
	if name == "WebService/CloseSession" {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
	} else if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	resp, err := s.dispatch(name, r, body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: 500, code: excNone, msg: err.Error()}
		}
		if ae.status != 500 {
			w.WriteHeader(ae.status)
			return
		}
		s.writeJSON(w, 500, errorBody{ExceptionCode: ae.code, Message: ae.msg})
		return
	}
	if resp == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	s.writeJSON(w, http.StatusOK, resp)
}

func (s *Server) route(path string) string {
	p := strings.ToLower(path)
	if !strings.HasPrefix(p, s.base) {
		return ""
	}
	return routes[strings.Trim(p[len(s.base):], "/")]
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if s.opts.BOM {
		data = append([]byte("\xef\xbb\xbf"), data...)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(data)
}

func (s *Server) dispatch(name string, r *http.Request, body []byte) (any, error) {
	switch name {
	case "Auth/AuthenticateApiKey":
		return s.authenticateAPIKey(body)
	case "Auth/AuthenticateUserKeySignatureCredential":
		return s.authenticateSignature(body)
	case "WebService/CloseSession":
		s.closeSession(r)
		return nil, nil
	}
	se, err := s.checkSession(r)
	if err != nil {
		return nil, err
	}
	switch name {
	case "WebService/GetContainerListFilter":
		return s.getContainerListFilter(body)
	case "WebService/GetContainerList":
		return s.getContainerList(se, body)
	case "WebService/GetContainer":
		return s.getContainer(se, body)
	case "WebService/GetLegitimateDataRights":
		return s.getLegitimateDataRights(se, body)
	case "WebService/GetContainerItemWithSecretValue":
		return s.getItemWithSecret(se, body)
	}
	return nil, &apiError{status: http.StatusNotFound}
}

// typeName gives the long or short $type of §3.2/§4.2.
func (s *Server) typeName(long string) string {
	if s.opts.ShortTypes {
		cls := long[strings.LastIndex(long, ".")+1:]
		return cls[:strings.Index(cls, ",")]
	}
	return long
}
