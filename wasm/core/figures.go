package core

import (
	"strconv"
	"strings"
	"time"
)

// FiguresEvery is how often a signed-in bar asks for get_stats (besides
// right after sign-in and when a call is answered or ends).
const FiguresEvery = 10 * time.Second

// SetFigures records a get_stats reply that arrived at now.
func (m *Model) SetFigures(st *Stats, now time.Time) {
	if st == nil {
		return
	}
	m.Figures, m.FiguresAt = st, now
}

// FiguresUnsupported records that the server reports no statistics: the
// strip goes away and the bar stops asking until the next sign-in.
func (m *Model) FiguresUnsupported() {
	m.Figures, m.FiguresOff = nil, true
}

// FiguresView is the statistics strip, already in the agent's language.
type FiguresView struct {
	// Queues has one line per queue: "Support: 2 waiting (longest 0:45), 3 ready".
	Queues []string
	// Agent is "Answered 5 · Talk 12:30 · Missed 1", or "" when the
	// vendor reports nothing about the agent.
	Agent string
}

// figuresView builds the strip at now; nil when there is nothing to show.
// The longest wait grows with the time since the figures arrived, so the
// strip keeps counting between two replies.
func (m *Model) figuresView(t func(string) string, now time.Time) *FiguresView {
	st := m.Figures
	if st == nil || m.FiguresOff || !m.SignedIn() {
		return nil
	}
	age := max(0, now.Sub(m.FiguresAt)).Truncate(time.Second)
	v := &FiguresView{}
	for _, q := range st.Queues {
		name := q.Name
		if name == "" {
			name = q.ID
		}
		longest := ""
		if q.Waiting > 0 {
			wait := time.Duration(q.LongestWait)*time.Second + age
			longest = fill(t("figures.longest"), "{wait}", Clock(wait))
		}
		v.Queues = append(v.Queues, fill(t("figures.queue"),
			"{waiting}", strconv.Itoa(q.Waiting), "{longest}", longest, "{ready}", strconv.Itoa(q.Ready), "{name}", name))
	}
	if a := st.Agent; a != nil {
		v.Agent = fill(t("figures.agent"),
			"{answered}", strconv.Itoa(a.Answered), "{talk}", Clock(time.Duration(a.TalkTime)*time.Second), "{missed}", strconv.Itoa(a.Missed))
		if a.Outbound > 0 {
			v.Agent += fill(t("figures.outbound"), "{outbound}", strconv.Itoa(a.Outbound))
		}
	}
	if len(v.Queues) == 0 && v.Agent == "" {
		return nil
	}
	return v
}

// fill replaces each {placeholder} of a message with its value, in
// order (a value put in is not looked at again by an earlier placeholder,
// so the server's names go last).
func fill(tmpl string, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		tmpl = strings.ReplaceAll(tmpl, kv[i], kv[i+1])
	}
	return tmpl
}
