package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	r := New()
	r.Help("agentbar_commands_total", "Commands by op and result.")
	r.Add("agentbar_commands_total", 1, "op", "ready", "result", "ok")
	r.Add("agentbar_commands_total", 2, "op", "hold", "result", `no"call`)
	r.Gauge("agentbar_sessions", func() float64 { return 3 })
	r.CounterFunc("agentbar_calls_total", func() float64 { return 7 })
	r.Observe("agentbar_relay_seconds", 3*time.Millisecond)
	r.Observe("agentbar_relay_seconds", 30*time.Second)
	var b strings.Builder
	r.WriteTo(&b)
	out := b.String()
	for _, want := range []string{
		"# HELP agentbar_commands_total Commands by op and result.\n# TYPE agentbar_commands_total counter\n",
		`agentbar_commands_total{op="hold",result="no\"call"} 2`,
		`agentbar_commands_total{op="ready",result="ok"} 1`,
		"# TYPE agentbar_sessions gauge\nagentbar_sessions 3\n",
		"# TYPE agentbar_calls_total counter\nagentbar_calls_total 7\n",
		`agentbar_relay_seconds_bucket{le="0.0025"} 0`,
		`agentbar_relay_seconds_bucket{le="0.005"} 1`,
		`agentbar_relay_seconds_bucket{le="+Inf"} 2`,
		"agentbar_relay_seconds_count 2\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
