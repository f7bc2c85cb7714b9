package worker

import "sync"

// groupRunner runs the jobs of one FIFO message group strictly one after another
// (other groups in parallel). After a job fails, the rest of the group that is
// already here is skipped (given back to the queue) so order holds on redelivery.
type groupRunner struct {
	mu     sync.Mutex
	groups map[string]*groupQueue
}

type groupJob struct {
	run  func() bool // reports whether the message is done (deleted)
	skip func()
}

type groupQueue struct {
	jobs   []groupJob
	failed bool
}

func newGroupRunner() *groupRunner { return &groupRunner{groups: map[string]*groupQueue{}} }

func (g *groupRunner) enqueue(group string, run func() bool, skip func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	q, ok := g.groups[group]
	if !ok {
		q = &groupQueue{}
		g.groups[group] = q
		go g.drain(group, q)
	}
	q.jobs = append(q.jobs, groupJob{run: run, skip: skip})
}

// drain runs q's jobs in order and forgets the group (and any failure) once it is empty.
func (g *groupRunner) drain(group string, q *groupQueue) {
	for {
		g.mu.Lock()
		if len(q.jobs) == 0 {
			delete(g.groups, group)
			g.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		failed := q.failed
		g.mu.Unlock()
		if failed {
			j.skip()
			continue
		}
		if !j.run() {
			g.mu.Lock()
			q.failed = true
			g.mu.Unlock()
		}
	}
}
