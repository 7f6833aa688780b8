// Package proxy will be the secrets-holding proxy: JWT sessions, the
// vendor-neutral gateway interface and its adapters (local, Huawei CEC,
// Tinet Clink, Alibaba CCC), the resumable event relay, the SIP WebSocket
// edge and ephemeral SIP credentials. It arrives with the server issue;
// today it is empty.
package proxy
