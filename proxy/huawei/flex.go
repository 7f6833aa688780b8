package huawei

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// flexString is a JSON scalar the CEC may send as a string, a number or a
// boolean (the seed's examples mix them for the same field). It keeps the
// value's text: "4", 4 and "4 " all decode to "4"; null decodes to "".
type flexString string

// UnmarshalJSON accepts a string, number, boolean or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
	case '{', '[':
		return errors.New("huawei: expected a scalar, got an object or array")
	default:
		*f = flexString(b)
	}
	return nil
}

// String is the scalar's text.
func (f flexString) String() string { return string(f) }

// Int is the scalar as an integer; ok is false when it is empty or not a
// whole number.
func (f flexString) Int() (n int64, ok bool) {
	s := string(f)
	if s == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return int64(v), true
}

// Bool is true for "true" (any case) and non-zero integers.
func (f flexString) Bool() bool {
	if strings.EqualFold(string(f), "true") {
		return true
	}
	n, ok := f.Int()
	return ok && n != 0
}

// envelope is the CC-Gateway response body: retcode and message plus a
// result (most operations) or an event (the event poll).
type envelope struct {
	Message flexString      `json:"message"`
	Retcode flexString      `json:"retcode"`
	Result  json.RawMessage `json:"result"`
	Event   json.RawMessage `json:"event"`
}

// cecEvent is one agent event (table 6-248); Content depends on the type.
type cecEvent struct {
	EventType string          `json:"eventType"`
	WorkNo    flexString      `json:"workNo"`
	Content   json.RawMessage `json:"content"`
}

// signInResult is the sign-in result (table 6-6).
type signInResult struct {
	VDNID         flexString `json:"vdnid"`
	WorkNo        flexString `json:"workno"`
	MediaType     flexString `json:"mediatype"`
	LoginTime     flexString `json:"loginTime"`
	IsForceChange flexString `json:"isForceChange"`
	ServerName    flexString `json:"serverName"`
	TimeRemaining flexString `json:"timeRemaining"`
}

// agentStatusResult is the agentstatus result (table 6-74).
type agentStatusResult struct {
	AgentState flexString `json:"agentState"`
	IsWorking  flexString `json:"isWorking"`
}

// callInfoResult is the CallInfo of the calldata queries callinfo,
// callinbeforeanswer and callinfobycallid (tables 6-202, 6-219, 6-223);
// the seed spells the original called number both ways. CallData is the
// decoded calldata string (callDataMap).
type callInfoResult struct {
	CallFeature   flexString  `json:"callfeature"`
	CallID        flexString  `json:"callid"`
	Caller        flexString  `json:"caller"`
	Called        flexString  `json:"called"`
	CallSkill     flexString  `json:"callskill"`
	CallSkillID   flexString  `json:"callskillid"`
	OrigCalled    flexString  `json:"orgicallednum"`
	OrigCalledAlt flexString  `json:"orgcallednum"`
	CallData      callDataMap `json:"calldata"`
	BeginTime     flexString  `json:"begintime"`
	MediaType     flexString  `json:"mediaType"`
}

// callContent is the union of the call-event content objects (§8.2): each
// event fills the subset it has. Both callid spellings occur.
type callContent struct {
	CallID           flexString `json:"callid"`
	CallIDAlt        flexString `json:"callId"`
	Caller           flexString `json:"caller"`
	Called           flexString `json:"called"`
	Feature          flexString `json:"feature"`
	Type             flexString `json:"type"`
	MediaAbility     flexString `json:"mediaAbility"`
	OtherPhone       flexString `json:"otherPhone"`
	OtherPhoneWorkno flexString `json:"otherPhoneWorkno"`
	Partner          flexString `json:"partner"`
	Number           flexString `json:"number"`
	Result           flexString `json:"result"`
	Detect           flexString `json:"detect"`
	Desc             flexString `json:"desc"`
	SkillName        flexString `json:"skillName"`
	SkillID          flexString `json:"skillId"`
	MediaType        flexString `json:"mediaType"`
	Transfer         flexString `json:"transfer"`
	TransFrom        flexString `json:"transfrom"`
	Reason           flexString `json:"reason"`
	AgentStatus      flexString `json:"agentStatus"`
	LoginTime        flexString `json:"loginTime"`
}

// id is the call id whichever spelling carried it.
func (c callContent) id() string {
	if c.CallID != "" {
		return c.CallID.String()
	}
	return c.CallIDAlt.String()
}

// decodeContent reads an event's content: a bare string becomes the call id
// (e.g. AgentEvent_Hold), null and absent give the zero value, and an object
// fills the matching fields (unknown keys such as "jsonKey" are ignored).
func decodeContent(raw json.RawMessage) (callContent, error) {
	var c callContent
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return c, nil
	}
	if raw[0] == '{' {
		err := json.Unmarshal(raw, &c)
		return c, err
	}
	var s flexString
	if err := json.Unmarshal(raw, &s); err != nil {
		return c, err
	}
	c.CallID = s
	return c, nil
}

// decodeResultString reads a result that is a bare callid string; an
// object or null (callinner's example returns {}) gives "".
func decodeResultString(raw json.RawMessage) string {
	var s flexString
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s.String()
}
