#!/usr/bin/python3
"""Execute a notebook cell by cell on a real Jupyter kernel and print every iopub message as JSON.

notebooks_test.go runs it with Debian's /usr/bin/python3 (which has jupyter_client):

    /usr/bin/python3 run_notebook.py [--kernel gonb] [--timeout 180] [--cwd DIR] [--no-stdin]
                                     [--jupyter-root DIR] [--kernel-log FILE] NOTEBOOK.ipynb
    /usr/bin/python3 run_notebook.py --check [--kernel gonb]

Unlike `jupyter nbconvert --execute`, which keeps only the final state of each display, this keeps
every message the kernel published while a cell ran (display_data, update_display_data with
transient.display_id, stream, error, execute_result, ...), so a test can check that a reply really
streamed into one display cell. Output: one JSON document on stdout:

    {"notebook": ..., "kernel": ..., "cwd": ..., "jupyter_root": ..., "nbformat_error": "",
     "cells": [{"index": i, "source": ..., "metadata": {...},
                "status": "ok"|"error"|"timeout"|"not_run", "seconds": 1.2, "idle_t": 1.0, "reply": {...},
                "messages": [{"msg_type": ..., "content": {...}, "t": 0.01}, ...]}]}

An input request (gonbui.RequestInput, e.g. a chat loop's prompt) is answered with the next line of
the cell's metadata.gonbchat.inputs (a list of strings), then with "", and recorded as an
"input_request" message followed by an "input_reply" message {"value": ...}. A cell with
metadata.gonbchat.stop_when (a string) is stopped as a person at Jupyter stops it: once something
the cell shows contains the string, the kernel is interrupted (the stop button), and a "stop_pressed"
message is recorded; with --no-stdin nobody presses stop. Messages that arrive within 0.2 s after
the kernel went idle are recorded too, with "after_idle": true. Times ("t" of a message, "idle_t"
when the kernel reported idle for the cell) are seconds since the execute request was sent;
"seconds" includes that 0.2 s wait.

The kernel runs in --cwd (default: the notebook's directory, as Jupyter does). GoNB sets
$GONB_JUPYTER_ROOT to the working directory of the process that started the kernel (found through
JPY_PARENT_PID), so --jupyter-root (default: --cwd) plays the directory Jupyter was started in.
OPENAI_API_KEY and OPENAI_BASE_URL are removed from the kernel's environment. Since this script
answers input requests, it sets GONBCHAT_INTERACTIVE=1 for the kernel (a person at Jupyter); with
--no-stdin it executes with allow_stdin=False, answers nothing, and leaves gonbchat to guess.

Exit status: 0 when the document was written (cell failures are reported inside it), 2 when the
kernel could not be started or the notebook could not be read; --check: 0 when the kernel spec
exists, 3 otherwise.
"""

import argparse
import json
import os
import queue
import signal
import sys
import time
import warnings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook", nargs="?")
    ap.add_argument("--kernel", default="gonb")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per cell")
    ap.add_argument("--startup-timeout", type=float, default=60.0)
    ap.add_argument("--cwd", default=None, help="kernel working directory (default: the notebook's directory)")
    ap.add_argument("--jupyter-root", default=None, help="directory the 'Jupyter server' runs in (default: --cwd)")
    ap.add_argument("--kernel-log", default=None, help="file for the kernel's own stdout/stderr (logs)")
    ap.add_argument("--check", action="store_true", help="only check that jupyter_client and the kernel spec exist")
    ap.add_argument("--no-stdin", action="store_true",
                    help="run as a plain jupyter_client script does: allow_stdin=False, and nobody answers input "
                         "requests (one that comes anyway is recorded as input_request_unanswered and the kernel "
                         "is interrupted, so that the run cannot hang)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="set a variable in the kernel's environment (after the API variables are removed)")
    args = ap.parse_args()

    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
        from jupyter_client.manager import start_new_kernel
    except ImportError as e:
        print("run_notebook.py: jupyter_client is missing (%s): run ./install.sh first" % e, file=sys.stderr)
        return 3 if args.check else 2

    if args.check:
        try:
            spec = KernelSpecManager().get_kernel_spec(args.kernel)
        except NoSuchKernel:
            print("run_notebook.py: no Jupyter kernel named %r: run ./install.sh first" % args.kernel, file=sys.stderr)
            return 3
        exe = spec.argv[0] if spec.argv else ""
        if not os.access(exe, os.X_OK):
            print("run_notebook.py: kernel %r points to %r, which is not executable: run ./install.sh first"
                  % (args.kernel, exe), file=sys.stderr)
            return 3
        print(json.dumps({"kernel": args.kernel, "resource_dir": spec.resource_dir, "argv": spec.argv, "env": spec.env}))
        return 0

    if not args.notebook:
        ap.error("the notebook is required")
    try:
        with open(args.notebook, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError) as e:
        print("run_notebook.py: cannot read %s: %s" % (args.notebook, e), file=sys.stderr)
        return 2

    cwd = os.path.abspath(args.cwd or os.path.dirname(os.path.abspath(args.notebook)))
    root = os.path.abspath(args.jupyter_root or cwd)
    out = {"notebook": os.path.abspath(args.notebook), "kernel": args.kernel, "cwd": cwd, "jupyter_root": root,
           "nbformat_error": validate(nb), "cells": []}

    env = dict(os.environ)
    # The notebooks must work (and fail politely) without an API key.
    for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GONBCHAT_INTERACTIVE"):
        env.pop(k, None)
    if not args.no_stdin:
        # This script answers input requests (with the cells' metadata.gonbchat.inputs): it plays a
        # person at Jupyter. gonbchat cannot tell that from the program that started the kernel, so
        # it is told. With --no-stdin it is a plain script nobody answers, as gonbchat guesses.
        env["GONBCHAT_INTERACTIVE"] = "1"
    # ...unless the caller points them at a server on purpose.
    for kv in args.env:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error("--env wants KEY=VALUE, got %r" % kv)
        env[k] = v

    log = open(args.kernel_log, "ab") if args.kernel_log else None
    os.chdir(root)  # GoNB reads $GONB_JUPYTER_ROOT from the cwd of JPY_PARENT_PID, i.e. this process.
    try:
        km, kc = start_new_kernel(kernel_name=args.kernel, cwd=cwd, env=env, startup_timeout=args.startup_timeout,
                                  stdout=log, stderr=log)
    except Exception as e:  # noqa: BLE001 -- report anything that stops the kernel from starting
        print("run_notebook.py: cannot start kernel %r: %s: %s" % (args.kernel, type(e).__name__, e),
              file=sys.stderr)
        return 2

    # `go test` stops a run that is over its deadline with SIGTERM: shut the kernel down (it runs in its
    # own session and would outlive this process) and still print what was recorded.
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        stop = False
        for i, cell in enumerate(nb.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            if isinstance(src, list):
                src = "".join(src)
            rec = {"index": i, "source": src, "metadata": cell.get("metadata", {}),
                   "status": "not_run", "messages": []}
            out["cells"].append(rec)
            if stop:
                continue
            if not src.strip():
                rec["status"] = "ok"
                continue
            run_cell(kc, km, src, args.timeout, rec, cell_inputs(cell), not args.no_stdin,
                     cell_stop_when(cell) if not args.no_stdin else "")
            if rec["status"] == "timeout":
                # The kernel is still busy with this cell: later cells would only queue behind it.
                stop = True
    except (KeyboardInterrupt, SystemExit) as e:
        out["aborted"] = "%s %s" % (type(e).__name__, e)
    finally:
        try:
            kc.stop_channels()
        finally:
            km.shutdown_kernel(now=False)
            if log:
                log.close()

    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def on_sigterm(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


def validate(nb):
    """Returns "" when nb is valid nbformat 4, else the validation error."""
    if nb.get("nbformat") != 4:
        return "nbformat is %r, want 4" % nb.get("nbformat")
    try:
        import nbformat
    except ImportError:
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. MissingIDFieldWarning: Jupyter adds cell ids itself
            nbformat.validate(nbformat.from_dict(nb))
    except Exception as e:  # noqa: BLE001 -- nbformat raises ValidationError and friends
        return "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    return ""


AFTER_IDLE_GRACE = 0.2  # seconds


def cell_inputs(cell):
    """The lines to answer the cell's input requests with: metadata.gonbchat.inputs (a list of strings)."""
    meta = cell.get("metadata", {}).get("gonbchat", {})
    lines = meta.get("inputs", []) if isinstance(meta, dict) else []
    return [str(x) for x in lines] if isinstance(lines, list) else []


def cell_stop_when(cell):
    """The text after which a person presses stop: metadata.gonbchat.stop_when (a string), or ""."""
    meta = cell.get("metadata", {}).get("gonbchat", {})
    v = meta.get("stop_when", "") if isinstance(meta, dict) else ""
    return v if isinstance(v, str) else ""


def shown_text(content):
    """What a message shows: stream text, and the text/html and text/plain of a display."""
    parts = [content.get("text", "")]
    for k in ("text/html", "text/plain"):
        v = content.get("data", {}).get(k, "")
        parts.append("".join(v) if isinstance(v, list) else str(v))
    return "\n".join(parts)


def run_cell(kc, km, src, timeout, rec, inputs, answer, stop_when=""):
    t0 = time.monotonic()
    stopped = False
    deadline = t0 + timeout
    pending = list(inputs)
    msg_id = kc.execute(src, store_history=True, allow_stdin=answer)
    # Read iopub until the kernel reports idle for this request, then fetch the shell reply. Input
    # requests (gonbui.RequestInput) are answered with the cell's declared input lines, then with ""
    # (which ends a chat loop); both the requests and the answers are recorded.
    idle = False
    while not idle:
        now = time.monotonic()
        left = deadline - now
        if left <= 0:
            rec["status"] = "timeout"
            rec["seconds"] = round(now - t0, 3)
            return
        try:
            req = kc.get_stdin_msg(timeout=0)
        except queue.Empty:
            req = None
        if req is not None and req["header"]["msg_type"] == "input_request" and not answer:
            # allow_stdin was False, yet the kernel asks: nobody will ever answer. Record it and
            # interrupt the kernel, as a person would press stop.
            rec["messages"].append({"msg_type": "input_request_unanswered", "content": req["content"],
                                    "t": round(now - t0, 3)})
            km.interrupt_kernel()
            req = None
        if req is not None and req["header"]["msg_type"] == "input_request":
            value = pending.pop(0) if pending else ""
            rec["messages"].append({"msg_type": "input_request", "content": req["content"], "t": round(now - t0, 3)})
            rec["messages"].append({"msg_type": "input_reply", "content": {"value": value}, "t": round(now - t0, 3)})
            kc.input(value)
        try:
            msg = kc.get_iopub_msg(timeout=min(left, 0.05))
        except queue.Empty:
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        mt = msg["header"]["msg_type"]
        if mt == "status":
            idle = msg["content"].get("execution_state") == "idle"
            if idle:
                rec["idle_t"] = round(time.monotonic() - t0, 3)
            continue
        rec["messages"].append({"msg_type": mt, "content": msg["content"], "t": round(time.monotonic() - t0, 3)})
        if stop_when and not stopped and stop_when in shown_text(msg["content"]):
            # A person saw it and pressed the stop button.
            stopped = True
            km.interrupt_kernel()
            rec["messages"].append({"msg_type": "stop_pressed", "content": {"stop_when": stop_when},
                                    "t": round(time.monotonic() - t0, 3)})
    # Jupyter front ends keep showing messages that arrive after "idle" (they match them by parent
    # msg_id): drain iopub for a moment so late ones are recorded too, marked "after_idle".
    grace = time.monotonic() + AFTER_IDLE_GRACE
    while True:
        left = grace - time.monotonic()
        if left <= 0:
            break
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except queue.Empty:
            break
        if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["header"]["msg_type"] == "status":
            continue
        rec["messages"].append({"msg_type": msg["header"]["msg_type"], "content": msg["content"],
                                "t": round(time.monotonic() - t0, 3), "after_idle": True})
    reply = None
    while reply is None:
        try:
            m = kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 10.0))
        except queue.Empty:
            rec["status"] = "timeout"
            break
        if m.get("parent_header", {}).get("msg_id") == msg_id:
            reply = m["content"]
    rec["seconds"] = round(time.monotonic() - t0, 3)
    if reply is not None:
        rec["reply"] = reply
        rec["status"] = reply.get("status", "unknown")


if __name__ == "__main__":
    sys.exit(main())
