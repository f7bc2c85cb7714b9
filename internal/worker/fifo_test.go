package worker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestGroupRunnerOrderParallelismAndSkip(t *testing.T) {
	var mu sync.Mutex
	order := map[string][]string{}
	record := func(item, what string) {
		group := item[:1]
		mu.Lock()
		order[group] = append(order[group], what+" "+item[1:])
		mu.Unlock()
	}
	release := make(chan struct{})
	started := make(chan string, 2)
	var wg sync.WaitGroup
	// Items are "<group><id>[!][~]": "!" fails, "~" blocks until released.
	g := newGroupRunner(1, func(batch []string) bool {
		it := batch[0]
		defer wg.Done()
		if strings.HasSuffix(it, "~") {
			started <- it
			<-release
			it = strings.TrimSuffix(it, "~")
		}
		record(strings.TrimSuffix(it, "!"), "run")
		return !strings.HasSuffix(it, "!")
	}, func(it string) { defer wg.Done(); record(it, "skip") })
	add := func(group, item string) { wg.Add(1); g.enqueue(group, group+item) }
	// Both groups' first items block together: proof that groups run in parallel.
	add("a", "1~")
	add("b", "1~")
	add("a", "2!") // fails: the rest of a is skipped
	add("a", "3")
	add("b", "2")
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
	add("a", "4")
	wg.Wait()
	if got := order["a"][len(order["a"])-1]; got != "run 4" {
		t.Errorf("a new item of a drained group: %q, failure state leaked", got)
	}
}

func TestGroupRunnerBatchesWhatHasArrived(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	var wg sync.WaitGroup
	g := newGroupRunner(3, func(b []int) bool {
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
		return true
	}, func(int) { t.Error("nothing should be skipped") })
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
