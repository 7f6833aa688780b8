package huawei

import (
	"context"
	"strings"
	"time"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// CC-Gateway's per-agent flow control of query operations: 5 requests in
// 2 s by default (seed line 12065-12066 for calldata, extended by line
// 21334-21346 to queuedevice, agentgroup, agentskills, agentstatus,
// syncagentinfo and updateGuid); beyond it the answer is 999-002. The
// adapter keeps a margin over the window for network jitter.
const (
	queryBurst  = 5
	queryWindow = 2*time.Second + 250*time.Millisecond
)

// isQuery tells whether path (relative to /agentgateway/resource/) is a
// flow-controlled query.
func isQuery(path string) bool {
	segs := strings.Split(path, "/")
	switch segs[0] {
	case "queuedevice", "agentgroup", "calldata":
		return true
	case "onlineagent":
		if len(segs) > 2 {
			switch segs[2] {
			case "agentskills", "agentskillsbyworkno", "agentstatus", "syncagentinfo", "updateGuid":
				return true
			}
		}
	}
	return false
}

// paceQuery waits until one more query keeps the agent within queryBurst
// per queryWindow. Each query reserves its sending time first, so
// concurrent callers queue in order without holding a lock while waiting.
func (c *conn) paceQuery(ctx context.Context) error {
	now := c.a.cfg.Now()
	c.qmu.Lock()
	at := now
	if len(c.qsent) == queryBurst {
		at = c.qsent[0].Add(queryWindow)
		if at.Before(now) {
			at = now
		}
		c.qsent = c.qsent[1:]
	}
	c.qsent = append(c.qsent, at)
	c.qmu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return gateway.Errorf(gateway.CodeUnavailable, "gave up waiting for the CC-Gateway query budget / 等待查询配额超时")
	case <-c.a.cfg.After(d):
		return nil
	}
}
