package core

// Lang is a language of the bar's strings.
type Lang string

// The bar's languages.
const (
	English Lang = "en"
	Chinese Lang = "zh-CN"
)

// ParseLang picks the bar's language for a BCP 47 tag such as the
// browser's navigator.language: any zh tag is Chinese, anything else English.
func ParseLang(tag string) Lang {
	if len(tag) >= 2 && (tag[:2] == "zh" || tag[:2] == "ZH") {
		return Chinese
	}
	return English
}

// Messages returns the bar's strings in lang, keyed by message id; a new
// map on each call, for the caller to keep.
func Messages(lang Lang) map[string]string {
	m := map[string]string{}
	for _, e := range catalog() {
		if lang == Chinese {
			m[e[0]] = e[2]
		} else {
			m[e[0]] = e[1]
		}
	}
	return m
}

// catalog is id, English, Chinese.
func catalog() [][3]string {
	return [][3]string{
		{"title", "Agent bar", "坐席工具条"},
		{"agent", "Agent", "坐席"},
		{"password", "Password", "密码"},
		{"sign_in", "Sign in", "签入"},
		{"sign_out", "Sign out", "签出"},
		{"state.signed_out", "Signed out", "已签出"},
		{"state.ready", "Ready", "空闲"},
		{"state.not_ready", "Not ready", "示忙"},
		{"state.rest", "On a break", "小休"},
		{"state.wrap_up", "Wrap-up", "话后处理"},
		{"state.busy", "On a call", "通话中"},
		{"call.ringing", "Ringing", "振铃"},
		{"call.talking", "Talking", "通话中"},
		{"call.held", "On hold", "保持"},
		{"call.consulting", "Consulting", "咨询中"},
		{"call.conference", "Conference", "三方通话"},
		{"link.idle", "not started", "未启动"},
		{"link.connecting", "connecting", "连接中"},
		{"link.open", "connected", "已连接"},
		{"link.closed", "disconnected", "已断开"},
		{"phone.idle", "not registered", "未注册"},
		{"phone.connecting", "registering", "注册中"},
		{"phone.open", "registered", "已注册"},
		{"phone.closed", "not registered", "未注册"},
		{"channel", "Control", "控制通道"},
		{"phone", "Phone", "话机"},
		{"answer", "Answer", "接听"},
		{"reject", "Reject", "拒接"},
		{"hangup", "Hang up", "挂断"},
		{"hold", "Hold", "保持"},
		{"resume", "Resume", "恢复"},
		{"mute", "Mute", "静音"},
		{"unmute", "Unmute", "取消静音"},
		{"dial", "Dial", "外呼"},
		{"dtmf", "Keypad", "拨号盘"},
		{"transfer", "Transfer", "转接"},
		{"consult", "Consult", "咨询"},
		{"complete_transfer", "Complete transfer", "完成转接"},
		{"cancel_consult", "Cancel consult", "取消咨询"},
		{"conference", "Conference", "会议"},
		{"wrap_up_done", "Wrap-up done", "结束话后"},
		{"ready", "Ready", "置闲"},
		{"not_ready", "Not ready", "置忙"},
		{"reason", "Reason", "原因"},
		{"target", "Target", "目标"},
		{"kind.agent", "Agent", "坐席"},
		{"kind.queue", "Queue", "队列"},
		{"kind.number", "Number", "号码"},
		{"caller", "Caller", "主叫"},
		{"queue", "Queue", "队列"},
		{"data", "Call data", "随路数据"},
		{"timer", "Duration", "时长"},
		{"wrap_up_left", "Wrap-up ends in", "话后剩余"},
		{"no_call", "No call", "无通话"},
		{"language", "Language", "语言"},
		{"enable_audio", "Enable audio", "启用声音"},
		{"microphone", "Microphone", "麦克风"},
		{"speaker", "Speaker", "扬声器"},
		{"quality", "Quality (MOS)", "通话质量 (MOS)"},
		{"incoming", "Incoming call", "来电"},
		{"figures", "Statistics", "统计"},
		{"figures.queue", "{name}: {waiting} waiting{longest}, {ready} ready", "{name}：{waiting} 人排队{longest}，{ready} 人空闲"},
		{"figures.longest", " (longest {wait})", "（最长 {wait}）"},
		{"figures.agent", "Answered {answered} · Talk {talk} · Missed {missed}", "已接 {answered} · 通话 {talk} · 未接 {missed}"},
		{"figures.outbound", " · Outbound {outbound}", " · 外呼 {outbound}"},
		{"err.unknown_agent", "Wrong agent or password.", "坐席号或密码错误。"},
		{"err.not_allowed", "Not allowed now.", "当前状态不允许该操作。"},
		{"err.no_call", "There is no call for that.", "没有可操作的通话。"},
		{"err.unavailable", "The contact center cannot be reached.", "无法连接呼叫中心。"},
		{"err.network", "Network error.", "网络错误。"},
		{"err.media", "Microphone or audio is not available.", "麦克风或音频不可用。"},
		{"err.phone", "The soft phone is not registered.", "软电话未注册。"},
		{"err.bad_request", "Check the input.", "请检查输入。"},
		{"err.session_over", "Your session has reached its maximum length: please sign in again.", "会话已达最长时限，请重新签入。"},
		{"err.unauthorized", "Your session has ended: please sign in again.", "会话已结束，请重新签入。"},
	}
}
