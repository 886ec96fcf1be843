#!/usr/bin/env bash
# install.sh: sets up everything the gonbchat notebooks need, on Debian (12) with Go installed.
#
#   1. Jupyter from Debian packages (there is no PyPI here): jupyter-notebook jupyter-nbconvert
#      python3-nbclient jupyter-client.
#   2. GoNB v0.11.3 and goimports, pinned by the tools module tools/go.mod, and gopls v0.20.0.
#   3. The "gonb" Jupyter kernel (gonb --install), with go, goimports and gopls on its PATH, and
#      gonbchat's kernel mode (GOFLAGS=-tags=gonbchat_kernel: fast cells, see internal/kernel).
#   4. A warm Go build cache, so that the first chat cell of a notebook does not build cold.
#
#   5. With --dev: what the test suite needs besides (Chromium for the browser tests, JupyterHub and
#      its proxy for the classroom test, a CJK font so that screenshots show Chinese).
#
# Idempotent: a second run checks, finds everything in place and takes a few seconds.
#   --in-process: a kernel spec without gonbchat's kernel mode (every cell links the whole stack, as
#   go run does; slower cells, nothing else changes).
#
# Usage: ./install.sh [--no-warm] [--dev] [--in-process]     (from any directory)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
REPO="$(pwd -P)"
MODULE=github.com/gonbchat/gonbchat
GOPLS_VERSION=v0.20.0
DEB_PACKAGES=(jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client)
DEV_PACKAGES=(chromium jupyterhub node-configurable-http-proxy fonts-wqy-microhei)
export PYDEVD_DISABLE_FILE_VALIDATION=1 # quiets a debugpy warning printed by jupyter commands
PY=/usr/bin/python3 # Debian's python3 has jupyter_client; the python3 first on PATH may not.

WARM=1
DEV=0
KERNEL_GOFLAGS="-tags=gonbchat_kernel -ldflags=-s"
for arg in "$@"; do
	case "$arg" in
	--no-warm) WARM=0 ;;
	--in-process) KERNEL_GOFLAGS="" ;;
	--dev) DEV=1 ;;
	-h | --help)
		sed -n '2,17p' "$0"
		exit 0
		;;
	*)
		echo "install.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

step() { printf '\n==> %s\n' "$*"; }
die() {
	printf '\ninstall.sh: ERROR: %s\n' "$*" >&2
	exit 1
}
on_err() {
	local rc=$?
	printf '\ninstall.sh: ERROR: "%s" failed (exit %d, line %d)\n' "$2" "$rc" "$1" >&2
	exit "$rc"
}
trap 'on_err "$LINENO" "$BASH_COMMAND"' ERR
T0=$SECONDS

# --- Go -----------------------------------------------------------------------------------------
step "Go"
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		PATH="/usr/local/go/bin:$PATH"
	else
		die "go not found: install Go 1.26 or newer (https://go.dev/doc/install), then re-run ./install.sh"
	fi
fi
GOROOT_BIN="$(go env GOROOT)/bin"
GOBIN_DIR="$(go env GOBIN)"
if [ -z "$GOBIN_DIR" ]; then
	GOPATH_FIRST="$(go env GOPATH)"
	GOBIN_DIR="${GOPATH_FIRST%%:*}/bin"
fi
export PATH="$GOBIN_DIR:$GOROOT_BIN:$PATH"
echo "$(go version) ; tools go to $GOBIN_DIR"

# --- Jupyter (Debian packages) ------------------------------------------------------------------
step "Jupyter"
missing=()
WANT=("${DEB_PACKAGES[@]}")
if [ "$DEV" = 1 ]; then
	WANT+=("${DEV_PACKAGES[@]}")
fi
for p in "${WANT[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install Jupyter (notebook, nbconvert, nbclient, jupyter_client for $PY) by hand"
	SUDO=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "not root and no sudo: run as root, or: apt-get install ${missing[*]}"
		SUDO=(sudo)
	fi
	echo "installing ${missing[*]} (apt-get; this takes a few minutes)"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
	echo "already installed: ${WANT[*]}"
fi
"$PY" -c 'import jupyter_client, nbclient, nbformat' || die "$PY cannot import jupyter_client/nbclient/nbformat"
[ -x /usr/bin/jupyter ] || die "/usr/bin/jupyter is missing after installing ${DEB_PACKAGES[*]}"

# --- GoNB, goimports, gopls -----------------------------------------------------------------------
step "GoNB $(sed -n 's#^\tgithub.com/janpfeifer/gonb \(v[^ ]*\).*#\1#p' tools/go.mod), goimports, gopls $GOPLS_VERSION"
# The Go module proxy answers 403 to GoNB's version list, so `go install github.com/janpfeifer/gonb@latest`
# and even `go install github.com/janpfeifer/gonb@v0.11.3` fail (both ask for the list). The tools module
# tools/go.mod requires GoNB at v0.11.3 (and goimports); installing from inside that module needs no list.
(cd tools && go install github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports)
# gopls is not in the tools module: its golang.org/x/tools requirement conflicts with goimports'.
# v0.20.0 is the newest gopls that builds with Go 1.26.
if "$GOBIN_DIR/gopls" version 2>/dev/null | grep -q " $GOPLS_VERSION\$"; then
	echo "gopls $GOPLS_VERSION already installed"
else
	go install "golang.org/x/tools/gopls@$GOPLS_VERSION"
fi
for tool in gonb goimports gopls; do
	[ -x "$GOBIN_DIR/$tool" ] || die "$tool was not installed in $GOBIN_DIR"
done

# --- The gonb kernel ----------------------------------------------------------------------------
step "Jupyter kernel gonb"
"$GOBIN_DIR/gonb" --install --logtostderr 2>&1 | sed 's/^/  /'
KERNEL_JSON="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/gonb/kernel.json"
[ -f "$KERNEL_JSON" ] || die "gonb --install did not write $KERNEL_JSON"
# GoNB records no PATH in kernel.json: the kernel inherits the PATH of whoever starts Jupyter, and
# finds no go, goimports or gopls when $GOBIN is not on it (cells then fail to build). Put them in
# the kernel spec; jupyter_client substitutes ${PATH} with the launching environment's PATH.
# GOFLAGS: -tags=gonbchat_kernel is gonbchat's kernel mode (internal/kernel): the packages a lesson
# imports build as thin stubs and one helper process per kernel does the work, so a cell after
# `import chatcell` builds as fast as one before it; -ldflags=-s (which implies -w) makes every
# cell's link cheaper. Programs built outside this kernel are not affected.
"$PY" - "$KERNEL_JSON" "$GOBIN_DIR:$GOROOT_BIN" "$KERNEL_GOFLAGS" <<'EOF'
import json, os, sys
path, prefix, goflags = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path) as f:
    spec = json.load(f)
spec.setdefault("env", {})["PATH"] = prefix + ":${PATH}"
if goflags:
    spec["env"]["GOFLAGS"] = goflags
else:
    spec["env"].pop("GOFLAGS", None)
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
os.replace(tmp, path)
EOF
"$PY" notebooks/testdata/run_notebook.py --check --kernel gonb >/dev/null ||
	die "Jupyter does not find the gonb kernel spec written to $KERNEL_JSON"
/usr/bin/jupyter kernelspec list | sed 's/^/  /'

# --- Warm the build cache -----------------------------------------------------------------------
if [ "$WARM" = 1 ]; then
	step "Warming the Go build cache"
	# 1. Build, in a throwaway module set up like a notebook's, a program that imports the packages
	#    the notebooks use: their dependencies (openai-go, goldmark, ...) land in the build cache.
	warm="$(mktemp -d)"
	trap 'rm -rf "$warm"' EXIT
	imports="" pkgs=""
	for pkg in chatcell display; do
		if compgen -G "$pkg/*.go" >/dev/null; then
			imports+="	_ \"$MODULE/$pkg\""$'\n'
			pkgs+=" $pkg"
		fi
	done
	t=$SECONDS
	(
		cd "$warm"
		go mod init gonbchat-warm >/dev/null 2>&1
		go mod edit -require="$MODULE@v0.0.0" -replace="$MODULE=$REPO"
		printf 'package main\n\nimport (\n%s)\n\nfunc main() {}\n' "$imports" >main.go
		go mod tidy >/dev/null 2>&1 || go mod tidy
		go build -o /dev/null .
		# The kernel mode's stubs, as the kernel builds them.
		GOFLAGS="$KERNEL_GOFLAGS" go build -o /dev/null .
	)
	echo "built${pkgs} in a throwaway module ($((SECONDS - t)) s)"
	# 2. Execute the smoke notebook once on the gonb kernel, from a PATH without Go: this checks the
	#    kernel spec really works and warms GoNB's own temporary module exactly like a first cell
	#    (in kernel mode, its first display also builds the helper, cmd/gonbchatd, into the user's
	#    cache directory, once for this version of gonbchat).
	t=$SECONDS
	if ! out="$(env PATH=/usr/bin:/bin jupyter nbconvert --to notebook --execute --stdout \
		--ExecutePreprocessor.kernel_name=gonb --ExecutePreprocessor.timeout=600 \
		notebooks/testdata/smoke.ipynb 2>&1 >/dev/null)"; then
		printf '%s\n' "$out" | tail -n 30 >&2
		die "the smoke notebook failed on the gonb kernel (see above)"
	fi
	echo "ran notebooks/testdata/smoke.ipynb on the gonb kernel ($((SECONDS - t)) s)"
fi

# --- Next -----------------------------------------------------------------------------------------
step "Done in $((SECONDS - T0)) s"
first="$(find notebooks -maxdepth 1 -name '*.ipynb' ! -name '*.nbconvert.ipynb' | sort | head -n 1)"
cat <<EOF

Next:
  jupyter notebook ${first:-notebooks/}
      open a lesson (add --no-browser --ip=127.0.0.1 on a machine without a desktop, then open
      the printed URL); set OPENAI_API_KEY in that shell first to chat with a live model.
  go test -timeout 25m ./...
      runs everything, the notebooks included, headless on the gonb kernel.
  /usr/bin/python3 notebooks/testdata/run_notebook.py ${first:-notebooks/testdata/smoke.ipynb}
      runs one notebook headless and prints every message the kernel sent, as JSON.

In a notebook of your own (anywhere, kernel "Go (gonb)"), make this the first cell:
  !*go mod edit -require=${MODULE}@v0.0.0 -replace=${MODULE}=${REPO}

GoNB, goimports and gopls are in $GOBIN_DIR (the kernel finds them without it on your PATH).
EOF
