package sdk

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byov/byov/sdk/internal/proto/connectorv1"
)

// closeConnector hands out closeInstances and keeps them for the test.
type closeConnector struct {
	mu        sync.Mutex
	instances map[string]*closeInstance
}

func (*closeConnector) Metadata() Metadata {
	return Metadata{Type: "close-test", Version: "1.0.0", Description: "closes"}
}

func (c *closeConnector) Configure(_ context.Context, req ConfigureRequest) (Instance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	inst := &closeInstance{closed: make(chan struct{})}
	if req.InstanceID == "failing" {
		inst.err = errors.New("logout refused")
	}
	if c.instances == nil {
		c.instances = map[string]*closeInstance{}
	}
	c.instances[req.InstanceID] = inst
	return inst, nil
}

func (c *closeConnector) instance(id string) *closeInstance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instances[id]
}

type closeInstance struct {
	closes   atomic.Int32
	deadline atomic.Bool
	err      error
	closed   chan struct{}
}

func (*closeInstance) Check(context.Context, CheckRequest) ([]Finding, error) { return nil, nil }
func (*closeInstance) Checkout(context.Context, CheckoutRequest) (*Credential, error) {
	return &Credential{}, nil
}

func (i *closeInstance) Close(ctx context.Context) error {
	_, ok := ctx.Deadline()
	i.deadline.Store(ok)
	if i.closes.Add(1) == 1 {
		close(i.closed)
	}
	return i.err
}

func (i *closeInstance) isClosed() bool { return i.closes.Load() > 0 }

func newCloseServer(t *testing.T, ids ...string) (*grpcServer, *closeConnector) {
	t.Helper()
	conn := &closeConnector{}
	s, err := newGRPCServer(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := s.Configure(context.Background(), &connectorv1.ConfigureRequest{InstanceId: id}); err != nil {
			t.Fatalf("Configure %s: %v", id, err)
		}
	}
	return s, conn
}

func TestCloseAllClosesEveryInstanceOnceCallsHaveFinished(t *testing.T) {
	s, conn := newCloseServer(t, "a", "b", "failing")
	// A call in flight on "a" must finish before "a" is closed.
	_, release, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.closeAll(10 * time.Second)
		close(done)
	}()
	for _, id := range []string{"b", "failing"} {
		select {
		case <-conn.instance(id).closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("instance %s was not closed", id)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if conn.instance("a").isClosed() {
		t.Fatal("instance a was closed while a call on it was in flight")
	}
	select {
	case <-done:
		t.Fatal("closeAll returned before the call in flight finished")
	default:
	}
	release()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("closeAll did not return after the call in flight finished")
	}
	for _, id := range []string{"a", "b", "failing"} {
		inst := conn.instance(id)
		if n := inst.closes.Load(); n != 1 {
			t.Errorf("instance %s closed %d times, want 1", id, n)
		}
		if !inst.deadline.Load() {
			t.Errorf("instance %s was closed with a context without a deadline", id)
		}
	}
	if _, _, err := s.acquire("a"); err == nil {
		t.Error("the server still serves an instance after closeAll")
	}
}

func TestCloseAllWaitsForReplacedInstances(t *testing.T) {
	s, conn := newCloseServer(t, "a")
	old := conn.instance("a")
	_, release, err := s.acquire("a")
	if err != nil {
		t.Fatal(err)
	}
	// Replacing "a" closes the old instance once its call has finished.
	if _, err := s.Configure(context.Background(), &connectorv1.ConfigureRequest{InstanceId: "a"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.closeAll(10 * time.Second)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("closeAll returned while a replaced instance was still waiting to close")
	default:
	}
	release()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("closeAll did not return")
	}
	if !old.isClosed() || !conn.instance("a").isClosed() {
		t.Errorf("old closed %v, new closed %v; want both", old.isClosed(), conn.instance("a").isClosed())
	}
}

func TestCloseAllGivesUpAfterTimeout(t *testing.T) {
	s, conn := newCloseServer(t, "a", "b")
	if _, _, err := s.acquire("a"); err != nil { // never released
		t.Fatal(err)
	}
	start := time.Now()
	s.closeAll(100 * time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closeAll took %v with a 100ms timeout", d)
	}
	if conn.instance("a").isClosed() {
		t.Error("instance a was closed under a call that never finished")
	}
	if !conn.instance("b").isClosed() {
		t.Error("instance b was not closed")
	}
}

func TestConfigureAfterCloseAllClosesTheNewInstance(t *testing.T) {
	s, conn := newCloseServer(t)
	s.closeAll(time.Second)
	if _, err := s.Configure(context.Background(), &connectorv1.ConfigureRequest{InstanceId: "late"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.instance("late").closed:
	case <-time.After(5 * time.Second):
		t.Fatal("an instance configured after closeAll was not closed")
	}
}
