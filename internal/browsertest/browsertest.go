// Package browsertest is what the real-browser tests share: finding Chromium (Debian's package
// "chromium", which `install.sh --dev` installs, or $GONBCHAT_CHROMIUM), starting it headless
// under chromedp for one test, and where screenshots go. Only tests import it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is $GONBCHAT_CHROMIUM, else the first of chromium, chromium-browser,
// google-chrome and headless-shell found on PATH, else "".
func ChromiumPath() string {
	for _, p := range []string{os.Getenv("GONBCHAT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// Require skips the test with -short and when no Chromium is found, and returns Chromium's path.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser test is skipped with -short")
	}
	exe := ChromiumPath()
	if exe == "" {
		t.Skip("no Chromium: install Debian's package chromium (install.sh does), or set GONBCHAT_CHROMIUM")
	}
	return exe
}

// Start starts headless Chromium exe for the test and returns its browser context, which ends
// with ctx or the test. opts come after the defaults (no sandbox, no GPU, no background
// networking, a fresh profile, a 1000×900 window), so they may override them.
func Start(t testing.TB, ctx context.Context, exe string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	all := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	}, opts...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, all...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return browser
}

// ScreenshotDir is $GONBCHAT_SCREENSHOT_DIR (created if need be), else the test's temporary
// directory.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	shots := os.Getenv("GONBCHAT_SCREENSHOT_DIR")
	if shots == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// Screenshot writes a full-page PNG of the tab of ctx to dir/name and logs its path.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
