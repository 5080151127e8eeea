package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// grpcServer is the plugin side of the protocol: it keeps the configured
// instances and routes each call to the one it names.
type grpcServer struct {
	connectorv1.UnimplementedConnectorServer
	impl   Connector
	meta   Metadata
	logger hclog.Logger

	mu        sync.RWMutex
	instances map[string]*instanceEntry
	// closed is set by closeAll; an instance configured after it is closed
	// at once instead of installed.
	closed bool
	// retiring counts the closes of replaced instances still running, so
	// that closeAll can wait for them too.
	retiring sync.WaitGroup
}

// instanceEntry counts the calls in flight on an instance so that a
// replaced or removed instance is closed only after they have finished.
type instanceEntry struct {
	Instance
	inflight sync.WaitGroup
}

func newGRPCServer(impl Connector, logger hclog.Logger) (*grpcServer, error) {
	if impl == nil {
		return nil, fmt.Errorf("no connector to serve")
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	meta := impl.Metadata()
	if err := ValidateMetadata(meta); err != nil {
		return nil, err
	}
	return &grpcServer{impl: impl, meta: meta, logger: logger, instances: map[string]*instanceEntry{}}, nil
}

// acquire returns the instance and a release function, or NotFound-style
// InvalidConfig when the host calls an instance it never configured.
func (s *grpcServer) acquire(id string) (*instanceEntry, func(), error) {
	s.mu.RLock()
	e, ok := s.instances[id]
	if ok {
		e.inflight.Add(1)
	}
	s.mu.RUnlock()
	if !ok {
		return nil, nil, Errorf(CodeInvalidConfig, "the host configures instances at start and after a restart; check the host log for a Configure error",
			"connector instance %q is not configured in this plugin process", id)
	}
	return e, e.inflight.Done, nil
}

// replace installs e (nil removes) and closes the previous instance once its
// calls have drained.
func (s *grpcServer) replace(id string, e *instanceEntry) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if e != nil {
			go s.closeInstance(context.Background(), id, e, "closing a connector instance configured during shutdown failed")
		}
		return
	}
	old := s.instances[id]
	if e == nil {
		delete(s.instances, id)
	} else {
		s.instances[id] = e
	}
	if old != nil {
		s.retiring.Add(1)
	}
	s.mu.Unlock()
	if old != nil {
		go func() {
			defer s.retiring.Done()
			old.inflight.Wait()
			s.closeInstance(context.Background(), id, old, "closing a replaced connector instance failed")
		}()
	}
}

func (s *grpcServer) closeInstance(ctx context.Context, id string, e *instanceEntry, failure string) {
	if err := e.Close(ctx); err != nil {
		s.logger.Warn(failure, "instance", id, "error", err)
	}
}

// closeAll closes every configured instance, in parallel, once its calls in
// flight have finished, and waits for replaced instances still being closed.
// It gives up after timeout: an instance whose calls have not finished by
// then is left unclosed (Close is never called under a running call), and a
// Close still running is abandoned. Every failure is logged. The server
// serves no instance afterwards.
func (s *grpcServer) closeAll(timeout time.Duration) {
	s.mu.Lock()
	s.closed = true
	instances := s.instances
	s.instances = map[string]*instanceEntry{}
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var all sync.WaitGroup
	for id, e := range instances {
		all.Go(func() {
			if !waitOrDone(ctx, &e.inflight) {
				s.logger.Warn("connector instance not closed: its calls in flight did not finish in time", "instance", id, "timeout", timeout)
				return
			}
			s.closeInstance(ctx, id, e, "closing a connector instance at shutdown failed")
		})
	}
	all.Go(func() {
		if !waitOrDone(ctx, &s.retiring) {
			s.logger.Warn("replaced connector instances still closing at shutdown; giving up on them", "timeout", timeout)
		}
	})
	if !waitOrDone(ctx, &all) {
		s.logger.Warn("closing connector instances at shutdown did not finish in time", "timeout", timeout)
	}
}

// waitOrDone waits for wg, or for ctx to end first (it then reports false).
func waitOrDone(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *grpcServer) GetMetadata(context.Context, *connectorv1.GetMetadataRequest) (*connectorv1.Metadata, error) {
	return metadataToProto(s.meta)
}

func (s *grpcServer) Configure(ctx context.Context, req *connectorv1.ConfigureRequest) (resp *connectorv1.ConfigureResponse, err error) {
	defer recoverCall("Configure", &err)
	if req.GetInstanceId() == "" {
		return nil, toStatus(Errorf(CodeInvalidConfig, "", "a Configure call must name an instance"))
	}
	raw := map[string]any{}
	if len(req.GetConfigJson()) > 0 {
		if err := json.Unmarshal(req.GetConfigJson(), &raw); err != nil {
			return nil, toStatus(Errorf(CodeInvalidConfig, "", "the instance config is not a JSON object: %v", err))
		}
	}
	cfg, err := DecodeConfig(s.meta.ConfigSchema, raw)
	if err != nil {
		return nil, toStatus(err)
	}
	inst, err := s.impl.Configure(ctx, ConfigureRequest{
		InstanceID: req.GetInstanceId(),
		Config:     cfg,
		ServiceAccount: ServiceAccount{
			Username: req.GetServiceAccount().GetUsername(),
			Secret:   Secret(req.GetServiceAccount().GetSecret()),
		},
		Logger: s.logger.Named(req.GetInstanceId()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	if inst == nil {
		return nil, toStatus(Errorf(CodeInternal, "", "the connector's Configure returned no instance and no error"))
	}
	s.replace(req.GetInstanceId(), &instanceEntry{Instance: inst})
	return &connectorv1.ConfigureResponse{}, nil
}

func (s *grpcServer) Unconfigure(_ context.Context, req *connectorv1.UnconfigureRequest) (*connectorv1.UnconfigureResponse, error) {
	s.replace(req.GetInstanceId(), nil)
	return &connectorv1.UnconfigureResponse{}, nil
}

func (s *grpcServer) Check(ctx context.Context, req *connectorv1.CheckRequest) (resp *connectorv1.CheckResponse, err error) {
	defer recoverCall("Check", &err)
	e, release, err := s.acquire(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	findings, err := e.Check(ctx, CheckRequest{TestAccount: accountFromProto(req.GetTestAccount())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.CheckResponse{Findings: findingsToProto(findings)}, nil
}

func (s *grpcServer) Checkout(ctx context.Context, req *connectorv1.CheckoutRequest) (resp *connectorv1.CheckoutResponse, err error) {
	defer recoverCall("Checkout", &err)
	e, release, err := s.acquire(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	cred, err := e.Checkout(ctx, checkoutRequestFromProto(req))
	if err != nil {
		return nil, toStatus(err)
	}
	if cred == nil {
		return nil, toStatus(Errorf(CodeInternal, "", "the connector's Checkout returned no credential and no error"))
	}
	return &connectorv1.CheckoutResponse{Credential: credentialToProto(cred)}, nil
}

func (s *grpcServer) Checkin(ctx context.Context, req *connectorv1.CheckinRequest) (resp *connectorv1.CheckinResponse, err error) {
	defer recoverCall("Checkin", &err)
	e, release, err := s.acquire(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	c, err := capable[Checkiner](s.meta, CapabilityCheckin, e.Instance)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := c.Checkin(ctx, CheckinRequest{
		Account: accountFromProto(req.GetAccount()),
		LeaseID: req.GetLeaseId(),
		Session: sessionFromProto(req.GetSession()),
	}); err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.CheckinResponse{}, nil
}

func (s *grpcServer) Put(ctx context.Context, req *connectorv1.PutRequest) (resp *connectorv1.PutResponse, err error) {
	defer recoverCall("Put", &err)
	store, release, err := s.accountStore(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	version, err := store.Put(ctx, PutRequest{
		Account:     accountFromProto(req.GetAccount()),
		Secret:      Secret(req.GetSecret()),
		Description: req.GetDescription(),
		Tags:        req.GetTags(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.PutResponse{Version: version}, nil
}

func (s *grpcServer) Delete(ctx context.Context, req *connectorv1.DeleteRequest) (resp *connectorv1.DeleteResponse, err error) {
	defer recoverCall("Delete", &err)
	store, release, err := s.accountStore(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	if err := store.Delete(ctx, accountFromProto(req.GetAccount())); err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.DeleteResponse{}, nil
}

func (s *grpcServer) List(ctx context.Context, req *connectorv1.ListRequest) (resp *connectorv1.ListResponse, err error) {
	defer recoverCall("List", &err)
	store, release, err := s.accountStore(req.GetInstanceId())
	if err != nil {
		return nil, toStatus(err)
	}
	defer release()
	infos, err := store.List(ctx, ListRequest{Domain: req.GetDomain()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &connectorv1.ListResponse{Accounts: accountInfosToProto(infos)}, nil
}

func (s *grpcServer) accountStore(id string) (AccountStore, func(), error) {
	e, release, err := s.acquire(id)
	if err != nil {
		return nil, nil, err
	}
	store, err := capable[AccountStore](s.meta, CapabilityAccounts, e.Instance)
	if err != nil {
		release()
		return nil, nil, err
	}
	return store, release, nil
}

// capable returns the instance as T when the connector announces the
// capability. An instance that lacks a method it announced is the author's
// bug, reported as such rather than as "unsupported".
func capable[T any](meta Metadata, c Capability, inst Instance) (T, error) {
	var zero T
	if !meta.Has(c) {
		return zero, Errorf(CodeUnsupported, "use a connector type that offers it",
			"connector %s %s does not offer the %q capability", meta.Type, meta.Version, c)
	}
	t, ok := inst.(T)
	if !ok {
		return zero, Errorf(CodeInternal, "this is a bug in the connector",
			"connector %s %s announces the %q capability but its instance type %T does not implement it", meta.Type, meta.Version, c, inst)
	}
	return t, nil
}

// recoverCall turns a panic in connector code into an Internal error so that
// one bad call does not take down every instance in the process. The panic
// value is not sent to the host (it could hold a secret); the stack goes to
// the plugin's stderr, which the host logs.
func recoverCall(method string, err *error) {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "byov connector: panic in %s: %T\n%s\n", method, r, debug.Stack())
		*err = toStatus(Errorf(CodeInternal, "this is a bug in the connector; its log holds the stack", "the connector panicked in %s", method))
	}
}
