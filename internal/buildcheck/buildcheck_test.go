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

// Students use Windows and macOS too: the whole module builds there.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module twice more")
	}
	root := moduleRoot(t)
	for _, target := range [][2]string{{"windows", "amd64"}, {"darwin", "arm64"}} {
		t.Run(target[0], func(t *testing.T) {
			cmd := exec.Command("go", "build", "-o", os.DevNull, "./...")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build ./...: %v\n%s", target[0], target[1], err, out)
			}
		})
	}
}
