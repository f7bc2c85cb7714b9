package worker

import (
	"sync"

	"github.com/casebridge/casebridge/internal/consumer"
)

// groupRunner runs the items of one FIFO message group strictly one batch
// after another (other groups in parallel). A batch is whatever of the group
// has arrived, up to maxBatch (1 unless coalescing). Each group has one
// consumer.Group, the core's memory of it (what to hold back for order), for
// as long as items of the group are here; the core decides, the runner only
// keeps the order.
type groupRunner[T any] struct {
	maxBatch int
	run      func(g *consumer.Group, batch []T)

	mu     sync.Mutex
	groups map[string]*groupQueue[T]
}

type groupQueue[T any] struct {
	items []T
	state consumer.Group
}

func newGroupRunner[T any](maxBatch int, run func(*consumer.Group, []T)) *groupRunner[T] {
	return &groupRunner[T]{maxBatch: max(maxBatch, 1), run: run, groups: map[string]*groupQueue[T]{}}
}

func (g *groupRunner[T]) enqueue(group string, item T) {
	g.mu.Lock()
	defer g.mu.Unlock()
	q, ok := g.groups[group]
	if !ok {
		q = &groupQueue[T]{}
		g.groups[group] = q
		go g.drain(group, q)
	}
	q.items = append(q.items, item)
}

// drain runs q's items in order and forgets the group (and the core's state
// for it) once it is empty.
func (g *groupRunner[T]) drain(group string, q *groupQueue[T]) {
	for {
		g.mu.Lock()
		if len(q.items) == 0 {
			delete(g.groups, group)
			g.mu.Unlock()
			return
		}
		n := min(len(q.items), g.maxBatch)
		batch := q.items[:n:n]
		q.items = q.items[n:]
		g.mu.Unlock()
		g.run(&q.state, batch)
	}
}
