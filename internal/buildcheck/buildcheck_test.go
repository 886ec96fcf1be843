package buildcheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// Students use Windows and macOS too: the whole module builds there. On macOS install.sh
// sets up kernel mode as on Linux (the kernel spec's -tags gonbchat_kernel), so the module
// builds with the tag there as well.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module three times more")
	}
	root := moduleRoot(t)
	for _, target := range []struct{ goos, goarch, tags string }{
		{"windows", "amd64", ""},
		{"darwin", "arm64", ""},
		{"darwin", "arm64", "gonbchat_kernel"},
	} {
		t.Run(strings.Trim(target.goos+"_"+target.tags, "_"), func(t *testing.T) {
			cmd := exec.Command("go", "build", "-tags", target.tags, "-o", os.DevNull, "./...")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build -tags %q ./...: %v\n%s", target.goos, target.goarch, target.tags, err, out)
			}
		})
	}
}
