package kernelenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestParentAndCmdlineFromProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if got := ParentOf(os.Getpid()); got != os.Getppid() {
		t.Errorf("ParentOf(self) = %d, want %d", got, os.Getppid())
	}
	if !strings.Contains(Cmdline(os.Getpid()), "kernelenv.test") {
		t.Errorf("Cmdline(self) = %q", Cmdline(os.Getpid()))
	}
	if Cmdline(0) != "" || ParentOf(-1) != 0 {
		t.Error("bad pids should give nothing")
	}
}

// A process whose grandparent is "nbconvert" sees itself as a batch run; one under a Jupyter
// server sees a live server. The test re-executes itself under a shell named like the launcher.
func TestLauncherKinds(t *testing.T) {
	if os.Getenv("KERNELENV_CHILD") != "" {
		if Batch() {
			os.Stdout.WriteString("batch\n")
		}
		if Frontend() == KindInteractive {
			os.Stdout.WriteString("interactive ")
		}
		if LiveServer() {
			os.Stdout.WriteString("live\n")
		}
		os.Exit(0)
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for launcher, want := range map[string]string{
		"jupyter-nbconvert": "batch", "papermill": "batch", "jupyter-notebook": "interactive live", "my-script.py": "",
		"jupyterhub-singleuser": "interactive live", "run_notebook.py": "",
	} {
		// A bash renamed NAME (the launcher) starts a bash (the kernel) that starts the child (the
		// cell program); "; true" keeps each bash from exec'ing its last command.
		child := "KERNELENV_CHILD=1 " + os.Args[0] + " -test.run ^TestLauncherKinds$; true"
		cmd := exec.Command("bash", "-c", `exec -a `+launcher+` bash -c 'bash -c "`+child+`"; true'`)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", launcher, err)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("under %s: got %q, want %q", launcher, got, want)
		}
	}
}

func TestFrontendOf(t *testing.T) {
	for launcher, want := range map[string]Kind{
		"/usr/bin/python3 /usr/bin/jupyter-notebook notebooks/ch3.ipynb":                                                       KindInteractive,
		"/usr/bin/python3 /usr/bin/jupyter-lab":                                                                                KindInteractive,
		"python3 -m notebook --no-browser":                                                                                     KindInteractive,
		"/opt/conda/bin/python3 /opt/conda/bin/jupyterhub-singleuser --ip=0.0.0.0":                                             KindInteractive,
		"/home/me/.vscode-server/bin/abc/node --dns-result-order=ipv4first .../bootstrap-fork --type=extensionHost":            KindInteractive,
		"/usr/lib/code-server/lib/node /usr/lib/code-server/out/bootstrap-fork --type=extensionHost":                           KindInteractive,
		"/usr/bin/python3 /usr/bin/jupyter-nbconvert --to notebook --execute x.ipynb":                                          KindBatch,
		"/usr/bin/python3 -m papermill in.ipynb out.ipynb":                                                                     KindBatch,
		"/usr/share/code/code --type=utility --utility-sub-type=node.mojom.NodeService --vscode-utility-kind=extension-host":   KindInteractive,
		"/usr/bin/python3 /home/me/.vscode/extensions/ms-python.python-2021.1.0/pythonFiles/vscode_datascience_helpers/daemon": KindInteractive,
		"/usr/bin/python3 /home/me/vscode-projects/run_all.py lesson.ipynb":                                                    KindUnknown,
		"/usr/bin/python3 run_notebook.py notebooks/ch3.ipynb":                                                                 KindUnknown,
		"python3 my_jupyter_client_script.py":                                                                                  KindUnknown,
		"":                                                                                                                     KindUnknown,
	} {
		if got := FrontendOf(launcher); got != want {
			t.Errorf("FrontendOf(%q) = %d, want %d", launcher, got, want)
		}
	}
}
