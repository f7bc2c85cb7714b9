package bench

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// goBench is one line of `go test -bench -benchmem` output.
type goBench struct {
	Name        string  `json:"name"`
	NsPerOp     float64 `json:"nsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	AllocsPerOp float64 `json:"allocsPerOp"`
}

// mapperBench runs the mapper's benchmarks (they are the mapper owner's; the
// harness only reads their output).
func (e *env) mapperBench(ctx context.Context, quick bool) ([]goBench, error) {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem"}
	if quick {
		args = append(args, "-benchtime", "2000x")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./internal/mapper")...)
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench ./internal/mapper: %w\n%s", err, out)
	}
	res := parseGoBench(string(out))
	if len(res) == 0 {
		return nil, fmt.Errorf("no benchmark results in:\n%s", out)
	}
	return res, nil
}

// parseGoBench reads the standard benchmark line format:
// name-P  iterations  v ns/op  [v MB/s]  v B/op  v allocs/op
func parseGoBench(out string) []goBench {
	var res []goBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		b := goBench{Name: f[0]}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if _, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name = b.Name[:i] // drop the GOMAXPROCS suffix
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			}
		}
		res = append(res, b)
	}
	return res
}
