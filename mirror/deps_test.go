package mirror_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Every notebook cell links chatcell, and with it the offline model: neither may link the test
// double (openaitest), net/http/httptest, or the root openai-go package (2.5 s more per cell).
func TestNotebookCellsLinkNoTestCode(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	for _, pkg := range []string{"github.com/gonbchat/gonbchat/chatcell", "github.com/gonbchat/gonbchat/mirror"} {
		out, err := exec.Command(goCmd, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := map[string]bool{}
		for line := range strings.SplitSeq(string(out), "\n") {
			deps[line] = true
		}
		if !deps[pkg] || !deps["net/http"] {
			t.Fatalf("go list -deps %s lists neither the package nor net/http:\n%s", pkg, out)
		}
		for _, banned := range []string{"github.com/gonbchat/gonbchat/openaitest", "net/http/httptest", "github.com/openai/openai-go/v3"} {
			if deps[banned] {
				t.Errorf("%s depends on %s", pkg, banned)
			}
		}
	}
}
