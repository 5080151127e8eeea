package psr

import (
	"context"
	"sync"
)

// flightGroup coalesces concurrent lookups of one account into one, so that
// a burst of sessions for the same account costs one search. It is the part
// of x/sync/singleflight this client needs, plus a waiter that gives up when
// its own context ends without cancelling the shared work, and a close that
// cancels the lookups still running and waits for them.
type flightGroup struct {
	mu     sync.Mutex
	calls  map[string]*flight
	closed bool
	// life is cancelled by close; every lookup's context ends with it.
	life   context.Context
	cancel context.CancelFunc
	// running counts the lookups' goroutines, which may outlive every
	// caller; close waits for them.
	running sync.WaitGroup
}

type flight struct {
	done chan struct{}
	val  *entry
	err  error
}

// do runs fn once for all concurrent callers with the same key. fn gets a
// context that no single caller can cancel, so one impatient caller does not
// fail the others; every HTTP attempt inside it has its own deadline. Only
// close cancels it.
func (g *flightGroup) do(ctx context.Context, key string, fn func(context.Context) (*entry, error)) (*entry, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, errClosed()
	}
	if g.calls == nil {
		g.calls = map[string]*flight{}
		g.life, g.cancel = context.WithCancel(context.Background())
	}
	f, ok := g.calls[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		g.calls[key] = f
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(g.life, cancel)
		g.running.Add(1)
		go func() {
			defer g.running.Done()
			f.val, f.err = fn(fctx)
			stop()
			cancel()
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return nil, newError(KindUnavailable, ctx.Err(), "", "the lookup was abandoned: %v", ctx.Err())
	}
}

// close refuses new lookups, cancels the running ones and waits until they
// have returned, so that nothing uses the client's session afterwards.
func (g *flightGroup) close() {
	g.mu.Lock()
	g.closed = true
	if g.cancel != nil {
		g.cancel()
	}
	g.mu.Unlock()
	g.running.Wait()
}
