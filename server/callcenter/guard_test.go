package callcenter

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestGuardRFC4475 checks what the trunk's guard does with each of the 49
// RFC 4475 messages: the code it answers itself, or that it hands the
// message to sipgo (0: the trunk's handlers answer, e.g. 200 to OPTIONS,
// 404 to an INVITE for no queue, 405 to REGISTER), or drops it (-1: a
// response, or bytes with nothing to address an answer to).
func TestGuardRFC4475(t *testing.T) {
	want := map[string]int{
		"badaspec": 400, "badbranch": 0, "baddate": 0, "baddn": 400, "badinv01": 400, "badvers": 505,
		"bcast": 0, "bext01": 420, "bigcode": -1, "clerr": 400, "cparam01": 0, "cparam02": 0, "dblreq": 0,
		"esc01": 0, "esc02": 501, "escnull": 0, "escruri": 400, "insuf": 400, "intmeth": 501, "inv2543": 0,
		"invut": 0, "longreq": 0, "ltgtruri": 400, "lwsdisp": 0, "lwsruri": 400, "lwsstart": 400, "mcl01": 400,
		"mismatch01": 400, "mismatch02": 501, "mpart01": 0, "multi01": 400, "ncl": 400, "noreason": 0,
		"novelsc": 416, "quotbal": 400, "regaut01": 0, "regbadct": 400, "regescrt": 0, "scalar02": 400,
		"scalarlg": -1, "sdp01": 0, "semiuri": 0, "transports": 0, "trws": 400, "unkscm": 416, "unksm2": 416,
		"unreason": 0, "wsinv": 0, "zeromf": 0,
	}
	g := &guardConn{parser: sip.NewParser(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), served: func(u string) bool { return u == "support" }}
	files, _ := filepath.Glob("../../sip/testdata/rfc4475/*.dat")
	if len(files) != 49 || len(want) != 49 {
		t.Fatalf("%d files, %d cases; want 49", len(files), len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".dat")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reply, pass, _ := g.check(data)
		got := -1
		switch {
		case pass && reply == nil:
			got = 0
		case reply != nil:
			got, _ = strconv.Atoi(strings.Fields(string(reply))[1])
		}
		if got != want[name] {
			t.Errorf("%s: guard gives %d (pass %v), want %d", name, got, pass, want[name])
		}
	}
}
