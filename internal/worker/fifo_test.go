package worker

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/casebridge/casebridge/internal/consumer"
)

func TestGroupRunnerOrderParallelismAndState(t *testing.T) {
	var mu sync.Mutex
	order := map[string][]string{}
	states := map[string]map[*consumer.Group]bool{}
	record := func(item string, st *consumer.Group) {
		group := item[:1]
		mu.Lock()
		order[group] = append(order[group], item[1:])
		if states[group] == nil {
			states[group] = map[*consumer.Group]bool{}
		}
		states[group][st] = true
		mu.Unlock()
	}
	release := make(chan struct{})
	started := make(chan string, 2)
	var wg sync.WaitGroup
	// Items are "<group><id>[~]": "~" blocks until released.
	g := newGroupRunner(1, func(st *consumer.Group, batch []string) {
		it := batch[0]
		defer wg.Done()
		if strings.HasSuffix(it, "~") {
			started <- it
			<-release
			it = strings.TrimSuffix(it, "~")
		}
		record(it, st)
	})
	add := func(group, item string) { wg.Add(1); g.enqueue(group, group+item) }
	// Both groups' first items block together: proof that groups run in parallel.
	add("a", "1~")
	add("b", "1~")
	add("a", "2")
	add("a", "3")
	add("b", "2")
	<-started
	<-started
	close(release)
	wg.Wait()
	if got := fmt.Sprint(order["a"]); got != "[1 2 3]" {
		t.Errorf("group a ran %s, want [1 2 3]", got)
	}
	if got := fmt.Sprint(order["b"]); got != "[1 2]" {
		t.Errorf("group b ran %s, want [1 2]", got)
	}
	if len(states["a"]) != 1 || len(states["b"]) != 1 {
		t.Errorf("a group's batches must share one consumer.Group: a %d, b %d", len(states["a"]), len(states["b"]))
	}
	// Once a group has drained, the core's state for it is forgotten.
	add("a", "4")
	wg.Wait()
	if len(states["a"]) != 2 {
		t.Errorf("a new item of a drained group got the old consumer.Group: the group's state leaked")
	}
}

func TestGroupRunnerBatchesWhatHasArrived(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	var wg sync.WaitGroup
	g := newGroupRunner(3, func(_ *consumer.Group, b []int) {
		if b[0] == 0 {
			close(holding)
			<-release // hold the group while the rest arrives
		}
		mu.Lock()
		batches = append(batches, append([]int(nil), b...))
		mu.Unlock()
		for range b {
			wg.Done()
		}
	})
	wg.Add(6)
	g.enqueue("g", 0)
	<-holding
	for i := 1; i < 6; i++ {
		g.enqueue("g", i)
	}
	close(release)
	wg.Wait()
	if got := fmt.Sprint(batches); got != "[[0] [1 2 3] [4 5]]" {
		t.Errorf("batches %s, want [[0] [1 2 3] [4 5]] (in order, at most 3)", got)
	}
}
