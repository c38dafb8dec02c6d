package queue

import (
	"fmt"
	"testing"

	"github.com/gangsched/gangsched/resources"
)

// BenchmarkDivide divides a 5,000-node cluster among 10 and 100 queues with
// demands over CPU, memory and GPUs.
func BenchmarkDivide(b *testing.B) {
	capacity := resources.List{"cpu": 5000 * 32000, "memory": 5000 * (128 << 30), "nvidia.com/gpu": 4000}
	for _, n := range []int{10, 100} {
		ents := make([]Entitlement, n)
		for i := range ents {
			ents[i] = Entitlement{
				Weight:     float64(1 + i%4),
				Guaranteed: resources.List{"cpu": int64(i%3) * 100000},
				Demand:     resources.List{"cpu": int64(1+i) * 1000000, "memory": int64(1+i%7) * (1 << 40), "nvidia.com/gpu": int64(i % 50)},
			}
		}
		b.Run(fmt.Sprintf("queues=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Divide(capacity, capacity, ents)
			}
		})
	}
}
