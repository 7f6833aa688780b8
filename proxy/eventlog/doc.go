// Package eventlog is the per-agent event log of the agentbar proxy, kept in
// NATS JetStream, so that a bar that reconnects (or a page that reloads)
// resumes from its last sequence number and receives every later event
// exactly once and in order.
//
// # Deployment
//
// By default Open starts an embedded NATS server inside the process, with
// JetStream storing its files in Config.StoreDir; the log therefore survives
// a restart of the proxy. The embedded server opens no network port: the
// client talks to it over an in-process connection. When Config.URL is set,
// Open connects to that external NATS server or cluster instead, which lets
// several proxy instances share one log. Both modes use the same layout.
//
// # Layout
//
// All events live in one stream (Config.Stream, "AGENTBAR_EVENTS" by
// default) on the subjects "agentbar.events.<agent>", kept for
// Config.MaxAge. Every message carries the agent's own sequence number in
// the "Agentbar-Seq" header: 1, 2, 3, ... per agent, dense, independent of
// the stream's global sequence. A second small stream (Config.Stream plus
// "_HEADS", subjects "agentbar.heads.<agent>", one message per subject, no
// age limit) remembers each agent's newest number, so numbering continues
// even after all of an agent's events have aged out.
//
// # Numbering
//
// Append publishes with the JetStream header
// Nats-Expected-Last-Subject-Sequence set to the stream sequence of the
// agent's newest event as last seen by this instance. JetStream refuses the
// write if anyone else appended in between; Append then reloads the newest
// event and retries. Within one process, appends for one agent are also
// serialized, so they never race each other. After a restart the counter is
// recovered from the newest event of the agent (or its head record).
//
// # Resuming
//
// The events stream republishes every event, once stored, on
// "agentbar.live.<agent>" with its stream sequence. Each Log holds one core
// NATS subscription on those subjects and hands each event to the
// subscribers of its agent; a subscriber holds no JetStream consumer and,
// while idle, no goroutine (one runs only while it has events to deliver).
// That keeps an idle control channel small and lets any NATS serve any
// number of bars without raising its consumer limits.
//
// Subscribe finds the first event with a number above the caller's, by a
// binary search over the stream with "next message on subject" lookups,
// registers the subscriber for live events, and then reads the stored
// events from that point on with the same lookups. Live events that arrive
// meanwhile wait on the subscriber's queue; numbers already delivered are
// skipped, so each event arrives once and in order. Core NATS delivery is
// at most once: when a live event's number shows a gap (events dropped by a
// slow consumer, say), the subscriber reads the missing ones from the
// store, where they are bound to be because only stored events are
// republished; after a reconnect or a slow-consumer error every subscriber
// reads the store again from where it stands.
//
// Agent ids are user input: only [A-Za-z0-9_-]{1,64} is accepted, checked
// before any subject is built.
package eventlog
