package worker

import "sync"

// groupRunner runs the items of one FIFO message group strictly one batch
// after another (other groups in parallel). A batch is whatever of the group
// has arrived, up to maxBatch (1 unless coalescing). After a batch fails, the
// rest of the group that is already here is skipped (given back to the queue)
// so order holds on redelivery.
type groupRunner[T any] struct {
	maxBatch int
	run      func(batch []T) bool // reports whether every item is done (deleted)
	skip     func(item T)

	mu     sync.Mutex
	groups map[string]*groupQueue[T]
}

type groupQueue[T any] struct {
	items  []T
	failed bool
}

func newGroupRunner[T any](maxBatch int, run func([]T) bool, skip func(T)) *groupRunner[T] {
	return &groupRunner[T]{maxBatch: max(maxBatch, 1), run: run, skip: skip, groups: map[string]*groupQueue[T]{}}
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

// drain runs q's items in order and forgets the group (and any failure) once it is empty.
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
		failed := q.failed
		g.mu.Unlock()
		if failed {
			for _, it := range batch {
				g.skip(it)
			}
			continue
		}
		if !g.run(batch) {
			g.mu.Lock()
			q.failed = true
			g.mu.Unlock()
		}
	}
}
