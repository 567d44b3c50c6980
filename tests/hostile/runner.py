"""Run ``tfjs-lite`` CLI cases in one sandboxed process and report what each did (JSON lines).

Used by the hostile-input tests as ``python runner.py CASES.json RESULTS.jsonl``. Each case is
``{"id", "argv", "input", "output"}``; the CLI runs in-process (imports paid once) under a
:func:`sys.addaudithook` sandbox that records every file opened, listed, created, renamed or
deleted outside the case's input and output, and every attempt to run code from data
(``marshal.loads`` outside the import system, unpickling, ``os.system``, subprocesses).
A result line is written and flushed after each case, so a hard crash (a segfault in a C library)
still tells which case did it: the first case without a result line.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback

_state: dict = {"active": False, "violations": [], "write_roots": (), "read_roots": ()}

_CODE_EVENTS = {
    "pickle.find_class",
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.spawn",
    "webbrowser.open",
    "urllib.Request",
    "socket.connect",
    "socket.getaddrinfo",
}
_WRITE_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.replace": (0, 1) if False else (0, 1),
    "os.symlink": (0, 1),
    "os.link": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
    "shutil.copyfile": (1,),
}
_LIST_EVENTS = {"os.listdir", "os.scandir", "glob.glob"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _under(path: str, roots: tuple) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _norm(path: object) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        path = os.fsdecode(path)
    except TypeError:
        return None
    return os.path.realpath(os.path.abspath(path)) if path else None


def _in_importlib() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or "importlib" in name and "_bootstrap" in name:
            return True
        frame = frame.f_back
    return False


def _inside_rmtree() -> bool:
    # shutil.rmtree works with paths relative to a directory fd; its own "shutil.rmtree" event
    # (checked below) names the folder it removes, so its inner events need no second check.
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name in ("_rmtree_safe_fd", "_rmtree_unsafe") and frame.f_code.co_filename.endswith("shutil.py"):
            return True
        frame = frame.f_back
    return False


def _hook(event: str, args: tuple) -> None:
    if not _state["active"]:
        return
    _state["active"] = False  # the hook's own calls (realpath) must not recurse
    try:
        v = _state["violations"]
        first = args[0] if args else None
        if isinstance(first, (str, bytes)) and not os.path.isabs(os.fsdecode(first)) and _inside_rmtree():
            return
        if event in _CODE_EVENTS:
            v.append(f"{event} {args!r:.200}")
        elif event == "marshal.loads" and not _in_importlib():
            v.append("marshal.loads outside the import system")
        elif event == "open":
            path = _norm(args[0])
            if path is not None:
                mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writing = any(c in mode for c in "wax+") or bool(flags & _WRITE_FLAGS)
                if writing and not _under(path, _state["write_roots"]):
                    v.append(f"write {path}")
                elif not writing and not _under(path, _state["read_roots"] + _state["write_roots"]):
                    v.append(f"read {path}")
        elif event in _LIST_EVENTS:
            path = _norm(args[0]) if args else None
            if path is not None and not _under(path, _state["read_roots"] + _state["write_roots"]):
                v.append(f"{event} {path}")
        elif event in _WRITE_EVENTS:
            for i in _WRITE_EVENTS[event]:
                if i < len(args):
                    path = _norm(args[i])
                    if path is not None and not _under(path, _state["write_roots"]):
                        v.append(f"{event} {path}")
    finally:
        _state["active"] = True


def _python_roots() -> tuple:
    import site
    import sysconfig

    import tfjs_lite

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(tfjs_lite.__file__)}
    for name, module in list(sys.modules.items()):  # packages mapped from elsewhere (tfjs_lite.optimizer)
        if name.startswith("tfjs_lite") and getattr(module, "__file__", None):
            roots.add(os.path.dirname(module.__file__))
    roots.update(sysconfig.get_paths().values())
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    roots.update(["/proc", "/sys", "/dev", "/etc", "/usr/lib", "/usr/share", "/lib", "/lib64", "/usr/local/lib"])
    return tuple(os.path.realpath(r) for r in roots if r)


def _preimport() -> None:
    # Everything the conversions may import lazily, so imports happen before the sandbox is armed.
    import importlib
    import pkgutil

    import tfjs_lite

    packages = [tfjs_lite]
    try:
        packages.append(importlib.import_module("tfjs_lite.optimizer"))
    except Exception:  # noqa: BLE001
        pass
    for package in packages:
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - modules still being written may not import
                pass


def _listing(folder: str) -> list:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def run_case(case: dict, python_roots: tuple) -> dict:
    from tfjs_lite.cli import main

    inp = os.path.realpath(case["input"])
    out = os.path.realpath(case["output"])
    out_parent = os.path.dirname(out)
    read_roots = [inp]
    if case.get("input_is_folder_file") or inp.endswith(".json"):
        read_roots.append(os.path.dirname(inp))
    read_roots.extend(os.path.realpath(p) for p in case.get("also_read", []))
    before = _listing(out_parent)
    _state.update(violations=[], write_roots=(out_parent,), read_roots=tuple(read_roots) + python_roots)
    stderr, stdout = io.StringIO(), io.StringIO()
    old = sys.stderr, sys.stdout
    sys.stderr, sys.stdout = stderr, stdout
    escaped = None
    _state["active"] = True
    try:
        rc = main(list(case["argv"]))
    except BaseException as e:  # noqa: BLE001 - anything escaping main() is a finding
        rc = None
        escaped = f"{type(e).__name__}: {e}"[:500] + "\n" + traceback.format_exc()[-2000:]
    finally:
        _state["active"] = False
        sys.stderr, sys.stdout = old
    after = _listing(out_parent)
    return {
        "id": case["id"],
        "rc": rc,
        "stderr": stderr.getvalue()[-4000:],
        "escaped": escaped,
        "violations": sorted(set(_state["violations"]))[:20],
        "before": before,
        "after": after,
        "output_exists": os.path.lexists(out),
    }


def main() -> int:
    cases_path, results_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        spec = json.load(f)
    _preimport()
    roots = _python_roots()
    sys.addaudithook(_hook)
    with open(results_path, "a", encoding="utf-8") as out:
        for case in spec["cases"]:
            result = run_case(case, roots)
            _state["active"] = False
            out.write(json.dumps(result) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
