// Package proxy is the secrets-holding half of agentbar. Its sub-packages
// each do one job: gateway (the vendor-neutral contract every CTI adapter
// implements), auth (JWTs and ephemeral SIP credentials), eventlog (the
// per-agent sequenced log on NATS JetStream), control (the bar's control
// channel), sipedge (the SIP-over-WebSocket edge). Vendor adapters (Huawei
// CEC, Tinet Clink, Alibaba CCC) arrive with their issues; the local
// adapter is the built-in call center's Gateway.
package proxy
