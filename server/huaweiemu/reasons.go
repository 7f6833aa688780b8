package huaweiemu

import (
	"strconv"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// The call center names its reasons; CC-Gateway numbers them: busy
// reasons 200-250 and rest causes 1-255, 0 meaning none. A neutral reason
// whose code is already such a number keeps it; the others are numbered in
// the call center's order (the i-th not-ready reason is 200+i, the i-th
// rest reason is 1+i).

// Reasons are the call center's reasons as CC-Gateway numbers them (the
// codes a client sends to saybusy and rest), with their labels: what a
// Huawei adapter in front of this emulator offers.
func (e *Emulator) Reasons() []gateway.Reason {
	var out []gateway.Reason
	for _, rest := range []bool{false, true} {
		base := 200
		if rest {
			base = 1
		}
		for _, r := range e.reasonList(rest) {
			out = append(out, gateway.Reason{Code: e.reasonCode(r.Code, rest, base), Label: r.Label, Rest: rest})
		}
	}
	return out
}

// reasonList is the call center's reasons of one kind, in order.
func (e *Emulator) reasonList(rest bool) []gateway.Reason {
	var out []gateway.Reason
	for _, r := range e.cfg.Gateway.Reasons() {
		if r.Rest == rest {
			out = append(out, r)
		}
	}
	return out
}

// busyReasonCode is the CC-Gateway busy reason for a neutral one.
func (e *Emulator) busyReasonCode(neutral string) string {
	return e.reasonCode(neutral, false, 200)
}

// restCauseCode is the CC-Gateway rest cause for a neutral reason.
func (e *Emulator) restCauseCode(neutral string) string {
	return e.reasonCode(neutral, true, 1)
}

func (e *Emulator) reasonCode(neutral string, rest bool, base int) string {
	if neutral == "" {
		return "0"
	}
	if _, err := strconv.Atoi(neutral); err == nil {
		return neutral
	}
	for i, r := range e.reasonList(rest) {
		if r.Code == neutral {
			return strconv.Itoa(base + i)
		}
	}
	return "0" // the call center's own reasons (rejected, missed)
}

// neutralReason is the neutral reason for a CC-Gateway number n (0 = none).
func (e *Emulator) neutralReason(n int, rest bool, base int) (string, bool) {
	if n == 0 {
		return "", true
	}
	list := e.reasonList(rest)
	for _, r := range list {
		if r.Code == strconv.Itoa(n) {
			return r.Code, true
		}
	}
	if i := n - base; i >= 0 && i < len(list) {
		return list[i].Code, true
	}
	return "", false
}

// skillID is the skill number of a queue: its place in Config.Queues
// (from 1), else its own number, else 1.
func (e *Emulator) skillID(queue string) int {
	for i, q := range e.cfg.Queues {
		if q.ID == queue {
			return i + 1
		}
	}
	if n, err := strconv.Atoi(queue); err == nil {
		return n
	}
	return 1
}

// queueOfSkill is the queue a client's skill number stands for: the
// Config.Queues entry, else the number itself as a queue id.
func (e *Emulator) queueOfSkill(skill string) string {
	if n, err := strconv.Atoi(skill); err == nil && n >= 1 && n <= len(e.cfg.Queues) {
		return e.cfg.Queues[n-1].ID
	}
	return skill
}
