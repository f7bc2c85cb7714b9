package publish

import (
	"context"
	"testing"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// BenchmarkSendBatch measures publishing throughput against goaws (100
// messages per SendBatch, as `casebridge send --file` does). Compare with the
// goaws figures in docs/testing.md, not with real SQS.
func BenchmarkSendBatch(b *testing.B) {
	g := testbed.StartGoawsT(b, testbed.GoawsConfig{Queues: []testbed.Queue{{Name: "bench"}}})
	p := NewSQS(testbed.NewSQSClient(g.Endpoint), g.QueueURLT(b, "bench"))
	msgs := make([]*Message, 100)
	for i := range msgs {
		m, err := Update(caseID).Set("priority", i).Set("status", "closed").Message()
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.SendBatch(context.Background(), msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
}
