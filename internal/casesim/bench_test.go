package casesim_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connectcases"
	"github.com/aws/aws-sdk-go-v2/service/connectcases/types"

	"github.com/casebridge/casebridge/internal/casesim"
)

// BenchmarkUpdateCaseSDK measures the full path a worker sees: SDK
// serialisation, signing, HTTP on loopback and the simulator, spread over
// the five demo cases.
func BenchmarkUpdateCaseSDK(b *testing.B) {
	h := newHarness(b, casesim.Options{UpdateLogLimit: 10000}, true)
	cases := []string{demoCase1, demoCase2, "7a1d6c3e-0000-4000-8000-000000000003", "7a1d6c3e-0000-4000-8000-000000000004", "7a1d6c3e-0000-4000-8000-000000000005"}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_, err := h.client.UpdateCase(context.Background(), &connectcases.UpdateCaseInput{
				DomainId: aws.String(demoDomain), CaseId: aws.String(cases[i%len(cases)]),
				Fields: []types.FieldValue{fv("status", str("pending")), fv("priority", num(float64(i)))}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
