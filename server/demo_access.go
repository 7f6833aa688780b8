package server

import "github.com/agentbar/agentbar/server/huaweiemu"

// Access to the Huawei demo's emulated CC-Gateway for tests outside this
// package (the browser tests in web/e2e). Nothing here is used by the
// agentbar binary.

// WithHuaweiDemoHook is an option for New: in Huawei demo mode (gateway.kind
// huawei without a base URL) hook sees, and may adjust, the emulator's
// configuration just before the emulator starts: the CTI passwords of this
// run, and OnGuid to collect every Guid issued, for a test that checks that
// none of them leaks. A nil hook does nothing.
func WithHuaweiDemoHook(hook func(*huaweiemu.Config)) option {
	return func(s *Server) { s.huaweiEmulatorHook = hook }
}

// HuaweiDemoEmulator is the Huawei demo's emulated CC-Gateway (for example
// to Restart it as a test), or nil when the server runs no demo emulator.
func (s *Server) HuaweiDemoEmulator() *huaweiemu.Emulator {
	if s.hwDemo == nil {
		return nil
	}
	return s.hwDemo.emu
}
