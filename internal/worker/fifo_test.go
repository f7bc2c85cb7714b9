package worker

import (
	"fmt"
	"sync"
	"testing"
)

func TestGroupRunnerOrderParallelismAndSkip(t *testing.T) {
	g := newGroupRunner()
	var mu sync.Mutex
	order := map[string][]string{}
	record := func(group, what string) {
		mu.Lock()
		order[group] = append(order[group], what)
		mu.Unlock()
	}
	release := make(chan struct{})
	started := make(chan string, 2)
	var wg sync.WaitGroup
	add := func(group, id string, ok bool, block bool) {
		wg.Add(1)
		g.enqueue(group, func() bool {
			defer wg.Done()
			if block {
				started <- group
				<-release
			}
			record(group, "run "+id)
			return ok
		}, func() { defer wg.Done(); record(group, "skip "+id) })
	}
	// Both groups' first jobs block together: proof that groups run in parallel.
	add("a", "1", true, true)
	add("b", "1", true, true)
	add("a", "2", false, false) // fails: the rest of a is skipped
	add("a", "3", true, false)
	add("b", "2", true, false)
	<-started
	<-started
	close(release)
	wg.Wait()
	if got := fmt.Sprint(order["a"]); got != "[run 1 run 2 skip 3]" {
		t.Errorf("group a: %s", got)
	}
	if got := fmt.Sprint(order["b"]); got != "[run 1 run 2]" {
		t.Errorf("group b: %s", got)
	}
	// Once a group has drained, its failure is forgotten.
	wg.Add(1)
	done := make(chan bool, 1)
	g.enqueue("a", func() bool { defer wg.Done(); done <- true; return true }, func() { defer wg.Done(); done <- false })
	wg.Wait()
	if !<-done {
		t.Error("a new message of a drained group was skipped: failure state leaked")
	}
}
