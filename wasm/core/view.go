package core

import (
	"fmt"
	"sort"
	"time"
)

// View is everything the page shows, already in the agent's language.
type View struct {
	SignedIn     bool
	Agent        string
	Name         string
	State        AgentState
	StateLabel   string
	Reason       string // the reason's label
	ChannelLabel string
	PhoneLabel   string
	Call         *CallView
	WrapUpLeft   string // "0:27" while in wrap-up with a deadline
	Allowed      Controls
	Reasons      []Reason
	Figures      *FiguresView // the statistics strip; nil hides it
}

// CallView is the call panel.
type CallView struct {
	ID         string
	Caller     string
	Queue      string
	Data       [][2]string // sorted by key
	StateLabel string
	Timer      string // "1:05", or "1:02:03" past an hour
	Muted      bool
	Ringing    bool
}

// View builds the view model at now in lang.
func (m *Model) View(msg map[string]string, now time.Time) View {
	t := func(id string) string {
		if s, ok := msg[id]; ok {
			return s
		}
		return id
	}
	v := View{
		SignedIn:     m.SignedIn(),
		Agent:        m.Agent,
		Name:         m.Name,
		State:        m.State,
		ChannelLabel: t("link." + string(orIdle(m.Channel))),
		PhoneLabel:   t("phone." + string(orIdle(m.Phone))),
		Allowed:      m.Allowed(),
		Reasons:      m.Reasons,
	}
	v.Figures = m.figuresView(t, now)
	st := m.State
	if st == "" {
		st = StateSignedOut
	}
	v.StateLabel = t("state." + string(st))
	if m.Reason != "" {
		v.Reason = m.Reason
		if r, ok := m.ReasonFor(m.Reason); ok {
			v.Reason = r.Label
		}
	}
	if m.State == StateWrapUp && !m.Deadline.IsZero() {
		v.WrapUpLeft = Clock(max(0, m.Deadline.Sub(now)).Round(time.Second))
	}
	if c := m.Current(); c != nil {
		cv := &CallView{
			ID:         c.ID,
			Caller:     c.Caller,
			Queue:      c.Queue,
			StateLabel: t("call." + c.State),
			Muted:      c.Muted,
			Ringing:    c.State == CallRinging,
		}
		if c.Direction == "outbound" && c.Callee != "" {
			cv.Caller = c.Callee
		}
		if !cv.Ringing {
			cv.Timer = Clock(max(0, now.Sub(c.Started)).Truncate(time.Second))
		}
		keys := make([]string, 0, len(c.Data))
		for k := range c.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cv.Data = append(cv.Data, [2]string{k, c.Data[k]})
		}
		v.Call = cv
	}
	return v
}

func orIdle(l Link) Link {
	if l == "" {
		return LinkIdle
	}
	return l
}

// Clock formats a duration as m:ss, or h:mm:ss from an hour on.
func Clock(d time.Duration) string {
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
