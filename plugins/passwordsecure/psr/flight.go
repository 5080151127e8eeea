package psr

import (
	"context"
	"sync"
)

// flightGroup coalesces concurrent lookups of one account into one, so that
// a burst of sessions for the same account costs one search. It is the part
// of x/sync/singleflight this client needs, plus a waiter that gives up when
// its own context ends without cancelling the shared work.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flight
}

type flight struct {
	done chan struct{}
	val  *entry
	err  error
}

// do runs fn once for all concurrent callers with the same key. fn gets a
// context that no single caller can cancel, so one impatient caller does not
// fail the others; every HTTP attempt inside it has its own deadline.
func (g *flightGroup) do(ctx context.Context, key string, fn func(context.Context) (*entry, error)) (*entry, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flight{}
	}
	f, ok := g.calls[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		g.calls[key] = f
		go func() {
			f.val, f.err = fn(context.WithoutCancel(ctx))
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
