//go:build unix

package kernel

import (
	"github.com/gonbchat/gonbchat/internal/fsutil"
	"github.com/gonbchat/gonbchat/internal/lang"

	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

var errBuild = errors.New("building the gonbchat kernel helper failed")

// Module is gonbchat's module path.
const Module = "github.com/gonbchat/gonbchat"

// source is where the cell's gonbchat comes from: a directory (a replace directive, as the
// lessons' setup cell writes) or a module version.
type source struct {
	dir     string // the module's directory, for a directory replacement
	version string // else the version, and its go.sum hash
	sum     string
}

// buildKey identifies the build of gonbchat this cell links, so that a helper is built once per
// version and reused by every kernel (and refused by a cell of another build): the Go version,
// the platform and the module version, or, for a directory, every Go source, go.mod and go.sum
// in it by size and modification time (a few milliseconds for the whole module).
func buildKey() (string, source, error) {
	if bin := os.Getenv(EnvHelper); bin != "" {
		st, err := os.Stat(bin)
		if err != nil {
			return "", source{}, errors.New(EnvHelper + ": " + err.Error())
		}
		return "bin-" + shortHash(bin+"\x00"+st.ModTime().String()+"\x00"+strconv.FormatInt(st.Size(), 10)), source{}, nil
	}
	src, err := findSource()
	if err != nil {
		return "", source{}, err
	}
	h := sha256.New()
	h.Write([]byte(runtime.Version() + "\x00" + runtime.GOOS + "/" + runtime.GOARCH + "\x00" + strconv.Itoa(Protocol) + "\x00"))
	if src.dir == "" {
		h.Write([]byte(src.version + "\x00" + src.sum))
		return "v-" + hex.EncodeToString(h.Sum(nil)[:10]), src, nil
	}
	h.Write([]byte(src.dir + "\x00"))
	var files []string
	err = filepath.WalkDir(src.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if path != src.dir && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if (strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) || name == "go.mod" || name == "go.sum" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", src, err
	}
	sort.Strings(files)
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		h.Write([]byte(f + "\x00" + strconv.FormatInt(st.Size(), 10) + "\x00" + strconv.FormatInt(st.ModTime().UnixNano(), 10) + "\n"))
	}
	return "d-" + hex.EncodeToString(h.Sum(nil)[:10]), src, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// findSource reads from the cell's build information where its gonbchat comes from.
func findSource() (source, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return source{}, errors.New("gonbchat kernel mode: this program has no build information")
	}
	for _, m := range info.Deps {
		if m.Path != Module {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" || r.Version == "(devel)" || strings.HasPrefix(r.Path, "/") || strings.HasPrefix(r.Path, ".") { // a directory
				dir := r.Path
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(os.Getenv("GONB_TMP_DIR"), dir)
				}
				return source{dir: filepath.Clean(dir)}, nil
			}
			return source{version: r.Path + "@" + r.Version, sum: r.Sum}, nil
		}
		return source{version: m.Path + "@" + m.Version, sum: m.Sum}, nil
	}
	return source{}, errors.New("gonbchat kernel mode: cannot tell where this program's gonbchat comes from (set " + EnvHelper + ")")
}

// cacheRoot is where helpers are built: the user's cache directory, shared by every kernel.
func cacheRoot(kernelDir string) string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gonbchat", "helper")
	}
	return filepath.Join(kernelDir, "bin")
}

// buildNotice is the line a cell shows while it builds the helper, in the lesson's language
// ($GONBCHAT_LANG, as the rest of what gonbchat shows).
func buildNotice(language string) string {
	switch language {
	case "zh-TW":
		return "gonbchat：正在建置核心輔助程式（這個版本的 gonbchat 只需要一次）…"
	case "zh-CN":
		return "gonbchat：正在构建内核辅助程序（这个版本的 gonbchat 只需要一次）…"
	}
	return "gonbchat: building the kernel helper, once for this version of gonbchat…"
}

// helperBinary returns the helper for key, building it once (under a lock shared by every kernel)
// when it is not in the cache yet.
func helperBinary(key string, src source, kernelDir string) (string, error) {
	if bin := os.Getenv(EnvHelper); bin != "" {
		return bin, nil
	}
	root := cacheRoot(kernelDir)
	dir := filepath.Join(root, key)
	bin := filepath.Join(dir, "gonbchatd")
	if exists(bin) {
		touch(dir)
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := fsutil.Lock(dir) // dir + ".lock"
	if err != nil {
		return "", err
	}
	defer unlock()
	if exists(bin) {
		return bin, nil
	}
	logPath := LogPath(kernelDir)
	os.Stderr.WriteString(buildNotice(lang.FromEnv()) + "\n")
	tmp := filepath.Join(dir, "gonbchatd.tmp"+strconv.Itoa(os.Getpid()))
	var argv []string
	wd := src.dir
	env := buildEnv()
	if src.dir != "" {
		argv = []string{goTool(), "build", "-ldflags=-s -w", "-o", tmp, "./cmd/gonbchatd"}
	} else {
		wd = dir
		env = append(env, "GOBIN="+filepath.Join(dir, "install"))
		argv = []string{goTool(), "install", "-ldflags=-s -w", Module + "/cmd/gonbchatd@" + strings.TrimPrefix(src.version, Module+"@")}
	}
	if err := run(argv, wd, env, logPath); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%w: %v\n%s", errBuild, err, readLastLines(logPath, 15))
	}
	if src.dir == "" {
		tmp = filepath.Join(dir, "install", "gonbchatd")
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	prune(root, key)
	return bin, nil
}

// buildEnv is the cell's environment for building the helper, which is built without the kernel
// tag (it runs the real packages) and outside any workspace.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOFLAGS=") || strings.HasPrefix(kv, "GOWORK=") || strings.HasPrefix(kv, "GONB_PIPE") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOFLAGS=-mod=readonly", "GOWORK=off")
}

// run runs argv in dir, its output going to the log.
func run(argv []string, dir string, env []string, logPath string) error {
	logf, err := openLog(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	logf.WriteString("gonbchat: " + strings.Join(argv, " ") + " (in " + dir + ")\n")
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Dir: dir, Env: env, Files: []*os.File{null, logf, logf}})
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return errors.New(st.String())
	}
	return nil
}

// goTool finds the go command: on PATH (install.sh puts it in the kernel's), else in GOROOT.
func goTool() string {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, "go")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 && !st.IsDir() {
			return p
		}
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func touch(path string) {
	now := timeNow()
	os.Chtimes(path, now, now)
}

// prune keeps the four most recently used helper builds.
func prune(root, keep string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	type build struct {
		name string
		mod  int64
	}
	var builds []build
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep {
			continue
		}
		if info, err := e.Info(); err == nil {
			builds = append(builds, build{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(builds, func(i, j int) bool { return builds[i].mod > builds[j].mod })
	for i, b := range builds {
		if i >= 3 {
			os.RemoveAll(filepath.Join(root, b.name))
			os.Remove(filepath.Join(root, b.name+".lock"))
		}
	}
}

var timeNow = time.Now
