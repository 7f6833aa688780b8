package media

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBridgeTick measures one 20 ms mixing cycle: take a frame from
// each port, mix-minus, write each port its share.
func BenchmarkBridgeTick(b *testing.B) {
	for _, n := range []int{2, 3} {
		b.Run(fmt.Sprintf("ports=%d", n), func(b *testing.B) {
			br := newBridge()
			defer br.Close()
			ports := make([]Port, n)
			frames := make([]Frame, n)
			for i := range ports {
				ports[i] = discardPort{}
				br.Add(ports[i])
				frames[i] = tone(300+200*float64(i), 8000, 0)
			}
			members := append([]*member(nil), br.members...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i, m := range members {
					m.in <- frames[i]
				}
				br.tick()
			}
		})
	}
}

// BenchmarkPCMU measures G.711 mu-law on one frame each way.
func BenchmarkPCMU(b *testing.B) {
	f := tone(440, 12000, 0)
	enc := EncodePCMU(f)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(FrameSamples)
		b.ReportAllocs()
		buf := make([]byte, 0, FrameSamples)
		for b.Loop() {
			buf = appendPCMU(buf[:0], &f)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(FrameSamples)
		b.ReportAllocs()
		for b.Loop() {
			f = DecodePCMU(enc)
		}
	})
}

// discardPort is a Port that says nothing and drops what it hears.
type discardPort struct{ _ byte }

func (discardPort) ReadFrame(ctx context.Context) (Frame, error) {
	<-ctx.Done()
	return Frame{}, ctx.Err()
}
func (discardPort) WriteFrame(Frame) error { return nil }
func (discardPort) Stats() Stats           { return Stats{} }
func (discardPort) Close() error           { return nil }
