package buildcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// What a notebook cell links, in both ways a kernel can run it, holds no test code: no
// openaitest, no net/http/httptest. In-process (no tag) the cell links chatcell, display and,
// when imported, chatcell/completions; in kernel mode (-tags gonbchat_kernel, what install.sh
// puts in the kernel spec) it links their stubs, and the kernel's helper (cmd/gonbchatd, built
// without the tag) links the real packages. mirror/deps_test.go checks more of the in-process
// build (no root openai-go package in chatcell).
func TestCellsLinkNoTestDouble(t *testing.T) {
	root := moduleRoot(t)
	const mod = "github.com/gonbchat/gonbchat/"
	cellPkgs := []string{mod + "chatcell", mod + "chatcell/completions", mod + "display"}
	for _, build := range []struct {
		tags string
		pkgs []string
	}{
		{"", append(cellPkgs, mod+"cmd/gonbchatd")},
		{"gonbchat_kernel", cellPkgs},
	} {
		for _, pkg := range build.pkgs {
			cmd := exec.Command("go", "list", "-tags", build.tags, "-deps", pkg)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list -tags %q -deps %s: %v\n%s", build.tags, pkg, err, out)
			}
			deps := map[string]bool{}
			for line := range strings.SplitSeq(string(out), "\n") {
				deps[line] = true
			}
			if !deps[pkg] || !deps["os"] {
				t.Fatalf("go list -tags %q -deps %s lists neither the package nor os:\n%s", build.tags, pkg, out)
			}
			for _, banned := range []string{mod + "openaitest", "net/http/httptest", mod + "internal/proxytest", mod + "internal/recorded"} {
				if deps[banned] {
					t.Errorf("-tags %q: %s depends on %s", build.tags, pkg, banned)
				}
			}
		}
	}
}
