package huawei

import (
	"strings"

	"github.com/agentbar/agentbar/proxy/gateway"
)

// retcodeInfo is how one CC-Gateway result code reaches the bar.
type retcodeInfo struct {
	code gateway.Code
	msg  string // English / Chinese
}

// retcodeTable maps the CC-Gateway result codes the bar handles (table
// 6-449, spec §10.1 and §15.3). Codes not listed fall back by range in
// codeFor.
func retcodeTable() map[string]retcodeInfo {
	return map[string]retcodeInfo{
		"000-001": {gateway.CodeSessionLost, "the session ended (wrong event method) / 会话已结束"},
		"000-002": {gateway.CodeBadRequest, "invalid parameter / 参数无效"},
		"000-003": {gateway.CodeSessionLost, "the session is no longer authorized; sign in again / 会话鉴权已失效，请重新签入"},
		"000-004": {gateway.CodeUnavailable, "the agent is being switched over; try again later / 座席正在切换，请稍后重试"},
		"000-006": {gateway.CodeBadRequest, "invalid message parameter / 消息参数错误"},
		"100-001": {gateway.CodeBadRequest, "sign-in parameters are empty or invalid / 签入参数为空或无效"},
		"100-002": {gateway.CodeSignedInElse, "the agent is already signed in elsewhere; sign in with force to take over / 座席已在别处签入，可强制签入接管"},
		"100-003": {gateway.CodeUnavailable, "sign-in resources unavailable; try again / 签入资源不可用，请重试"},
		"100-004": {gateway.CodeUnknownAgent, "wrong agent account or password / 座席账号或密码错误"},
		"100-005": {gateway.CodeBadRequest, "invalid sign-out parameters / 签出参数无效"},
		"100-006": {gateway.CodeSessionLost, "the agent is not signed in / 座席未签入"},
		"100-007": {gateway.CodeUnavailable, "the contact center failed to carry out the operation; try again / 座席操作异常，请重试"},
		"100-008": {gateway.CodeSessionLost, "the agent is already signed out / 座席已签出"},
		"100-009": {gateway.CodeNotAllowed, "not allowed in the current state / 当前状态不允许此操作"},
		"100-010": {gateway.CodeNotAllowed, "cannot sign out in the current state / 当前状态不允许签出"},
		"100-011": {gateway.CodeBadRequest, "invalid parameter / 参数无效"},
		"100-012": {gateway.CodeBadRequest, "wrong agent type / 座席类型错误"},
		"100-013": {gateway.CodeBadRequest, "the agent's phone is invalid; check the soft phone registration / 座席话机无效，请检查软电话注册"},
		"100-014": {gateway.CodeBadRequest, "the phone number is not in the configured range / 话机号码不在配置范围内"},
		"100-015": {gateway.CodeSignedInElse, "the agent is signed in elsewhere and cannot be taken over / 座席已签入且无法强制签入"},
		"100-016": {gateway.CodeBadRequest, "invalid IP address at sign-in / 签入 IP 地址无效"},
		"110-016": {gateway.CodeUnknownAgent, "the agent account is locked / 座席账号已锁定"},
		"105-005": {gateway.CodeSessionLost, "recovery timed out; sign in again / 恢复超时，请重新签入"},
		"105-006": {gateway.CodeSessionLost, "recovery failed; sign in again / 恢复失败，请重新签入"},
		"105-007": {gateway.CodeSessionLost, "recovery is off; sign in again / 恢复开关关闭，请重新签入"},
		"200-001": {gateway.CodeBadRequest, "wrong number to dial / 外呼号码错误"},
		"200-004": {gateway.CodeNotAllowed, "not allowed in the current call state / 当前呼叫状态不允许此操作"},
		"200-008": {gateway.CodeNotAllowed, "not allowed in the current call state / 当前呼叫状态不允许此操作"},
		"200-014": {gateway.CodeNotAllowed, "not allowed in the current call state / 当前呼叫状态不允许此操作"},
		"200-016": {gateway.CodeNotAllowed, "not allowed in the current call state / 当前呼叫状态不允许此操作"},
		"200-036": {gateway.CodeBadRequest, "invalid preview call parameters / 预览外呼参数无效"},
		"200-039": {gateway.CodeNotAllowed, "the agent has no bound phone / 座席未绑定话机"},
		"999-001": {gateway.CodeUnavailable, "the contact center is misconfigured / 呼叫中心配置错误"},
		"999-002": {gateway.CodeUnavailable, "the contact center is overloaded (query flow control); try again in a few seconds / 呼叫中心查询过载（流控），请稍后重试"},
		"999-003": {gateway.CodeUnavailable, "too many agents signed in / 签入座席数已达上限"},
	}
}

// isFatalPollCode reports the poll codes that end the loop: the agent is
// signed out (§7.1).
func isFatalPollCode(rc string) bool {
	return rc == "000-001" || rc == "000-003" || rc == "100-006"
}

// codeFor turns a non-zero retcode into a gateway error whose message
// names the code (not a secret) in English and Chinese.
func codeFor(table map[string]retcodeInfo, rc, op string) *gateway.Error {
	info, ok := table[rc]
	if !ok {
		switch {
		case strings.HasPrefix(rc, "200-"):
			info = retcodeInfo{gateway.CodeNoCall, "no suitable call for this action / 没有可操作的呼叫"}
		case strings.HasPrefix(rc, "105-"):
			info = retcodeInfo{gateway.CodeUnavailable, "the contact center is recovering; try again / 呼叫中心正在恢复，请重试"}
		default:
			info = retcodeInfo{gateway.CodeInternal, "the contact center refused the request / 呼叫中心拒绝了该请求"}
		}
	}
	return &gateway.Error{Code: info.code, Message: info.msg + " (" + op + ": CEC " + rc + ")"}
}
