"""Broken-input corpus for the hostile-input tests: mutators, builders and the case runner.

Every broken file is made here from the committed fixtures by a few lines of code (no committed
blobs). :func:`run_cases` converts a batch of cases with the real CLI in a sandboxed subprocess
(``runner.py``) and :func:`judge` checks each result against the contract:

* exit status 2 and exactly one ``tfjs-lite: error:`` line naming the input (warnings aside);
  a mutation that leaves the model valid may instead convert (exit 0) when the case allows it;
* no traceback, nothing escaping ``main()``, no crash of the process;
* nothing left in the output's parent folder (no output, no staging folder);
* no file opened, listed, created or removed outside the input and the output, no code run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
RUNNER = Path(__file__).with_name("runner.py")
PYTHON = sys.executable
FSIZE_LIMIT = 512 * 1024**2  # no file written by a case may exceed this
MB = 1024**2
DISK_LIMIT = 400 * MB
INTERPRETER_ALLOWANCE = 150 * MB  # RSS of the runner before any conversion  # all the files a batch of cases may write

# class name -> {"outcomes": Counter}; printed by conftest.pytest_terminal_summary.
STATS: dict[str, dict[str, Counter]] = defaultdict(lambda: {"outcomes": Counter()})


def record(cls: str, outcome: str, n: int = 1) -> None:
    STATS[cls]["outcomes"][outcome] += n


# --------------------------------------------------------------------------------------------
# byte-level mutators
# --------------------------------------------------------------------------------------------


def truncation_sizes(n: int) -> list[int]:
    sizes = {0, 1, 7, 8, 64, 512, 2048, 4096, n // 4, n // 2, (3 * n) // 4, n - 1}
    return sorted(s for s in sizes if 0 <= s < n)


def flip_bits(data: bytes, rng: random.Random, count: int = 1, *, region: Optional[tuple[int, int]] = None) -> bytes:
    buf = bytearray(data)
    lo, hi = region or (0, len(buf))
    for _ in range(count):
        i = rng.randrange(lo, hi)
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def byte_mutations(data: bytes, rng: random.Random) -> bytes:
    """One random structural mutation: flip, overwrite with 0x00/0xFF, duplicate or cut a slice."""
    kind = rng.randrange(5)
    buf = bytearray(data)
    i = rng.randrange(len(buf))
    n = rng.choice([1, 2, 4, 8, 64])
    if kind == 0:
        return flip_bits(data, rng, rng.choice([1, 3, 16]))
    if kind == 1:
        buf[i : i + n] = b"\xff" * len(buf[i : i + n])
    elif kind == 2:
        buf[i : i + n] = b"\x00" * len(buf[i : i + n])
    elif kind == 3:
        buf[i:i] = buf[i : i + n]
    else:
        del buf[i : i + n]
    return bytes(buf)


# --------------------------------------------------------------------------------------------
# cases and the sandboxed runner
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    cls: str  # class of bad input (a row of docs/hostile_inputs.md)
    input: Path
    output: Path
    flags: list[str] = field(default_factory=list)
    may_convert: bool = False  # a mutation that may leave the model valid
    names: tuple[str, ...] = ()  # acceptable file names in the error line (default: the input's)
    marker: Optional[Path] = None  # a file that appears only if model code ran
    secret: Optional[bytes] = None  # bytes of a file outside the input that must not leak into the output
    also_read: tuple[Path, ...] = ()
    converted: str = "converted (mutation left the model valid)"  # outcome label when may_convert and exit 0
    forbid: tuple[str, ...] = ("out of memory",)  # texts that must not be the error (a refusal by luck)

    def argv(self) -> list[str]:
        return ["convert", str(self.input), str(self.output), *self.flags]


_RUNS = 0
# Case ids of bugs listed in tests/hostile/BUGS.md: judged and counted as "BUG (known)", failing
# the test only with TFJS_LITE_HOSTILE_STRICT=1; a known bug that no longer shows fails the test
# (remove it here and from BUGS.md).
KNOWN_BUGS: dict[str, str] = {
}
STRICT = os.environ.get("TFJS_LITE_HOSTILE_STRICT") == "1"


def run_cases(cases: list[Case], work: Path, timeout: float = 600) -> tuple[dict[str, dict], int]:
    """Run ``cases`` in sandboxed subprocesses; returns results by id and the peak RSS in bytes.

    A case that kills the process (no result line) gets ``{"crash": signal}``; the batch then
    continues in a new process after it.
    """
    results: dict[str, dict] = {}
    peak = 0
    pending = list(cases)
    while pending:
        global _RUNS
        _RUNS += 1
        spec = work / f"cases-{_RUNS}.json"
        out = work / f"results-{_RUNS}.jsonl"
        spec.write_text(
            json.dumps(
                {
                    "cases": [
                        {
                            "id": c.id,
                            "argv": c.argv(),
                            "input": str(c.input),
                            "output": str(c.output),
                            "also_read": [str(p) for p in c.also_read],
                        }
                        for c in pending
                    ]
                }
            )
        )
        watch = sorted({c.output.parent for c in pending})
        status, rss, stderr = spawn([PYTHON, str(RUNNER), str(spec), str(out)], timeout, watch=watch)
        peak = max(peak, rss)
        done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
        for r in done:
            results[r["id"]] = r
        pending = pending[len(done) :]
        if pending:
            crashed = pending.pop(0)
            results[crashed.id] = {"id": crashed.id, "crash": f"{status}; {stderr.strip()[-300:]}"}
    return results, peak


def _tree_bytes(folders: list[Path]) -> int:
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass
    return total


def spawn(
    argv: list[str], timeout: float, env: Optional[dict] = None, watch: list[Path] = ()
) -> tuple[Any, int, str]:
    """Run ``argv``; returns (exit status or "signal NAME", peak RSS in bytes, stderr).

    The process is killed after ``timeout`` s, or when the files under ``watch`` grow past
    :data:`DISK_LIMIT` (a size bomb must not fill the disk of the machine running the tests).
    """
    import threading

    def limits() -> None:  # a runaway writer dies with SIGXFSZ instead of filling the disk
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))

    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO, preexec_fn=limits
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    stop = threading.Event()
    why: list[str] = []
    timer = threading.Timer(timeout, lambda: (why.append(f"timed out after {timeout:.0f} s"), proc.kill()))
    timer.start()

    def guard() -> None:
        while not stop.wait(0.25):
            if _tree_bytes(list(watch)) > DISK_LIMIT:
                why.append(f"killed: wrote more than {DISK_LIMIT // MB} MB")
                proc.kill()
                return

    guard_thread = threading.Thread(target=guard, daemon=True)
    if watch:
        guard_thread.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        stop.set()
    proc.returncode = status  # reaped by wait4
    reader.join(5)
    proc.stderr.close()
    if why:
        code: Any = why[0]
    elif os.WIFSIGNALED(status):
        code: Any = f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    else:
        code = os.WEXITSTATUS(status)
    return code, usage.ru_maxrss * 1024, b"".join(chunks).decode("utf-8", "replace")


def judge(case: Case, result: dict) -> tuple[str, list[str]]:
    """(outcome label, problems); no problems means the case met the contract."""
    problems: list[str] = []
    if "crash" in result:
        return "BUG: process crashed", [f"the process died ({result['crash']})"]
    if result.get("escaped"):
        problems.append(f"exception escaped main(): {result['escaped'][:300]}")
    rc = result["rc"]
    err = result["stderr"]
    chatter = ("tfjs-lite: warning:", "tfjs-lite: converting ", "tfjs-lite: wrote ")  # allowed besides the error
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(chatter)]
    if "Traceback" in err:
        problems.append("traceback printed")
    if result["violations"]:
        problems.append(f"sandbox: {result['violations'][:5]}")
    if case.marker is not None and case.marker.exists():
        problems.append(f"model code ran: {case.marker} exists")
    if rc == 0 and case.may_convert:
        if case.secret is not None and _leaks(case.output, case.secret):
            problems.append("bytes from a file outside the input were copied into the output")
        _remove(case.output)
        return (case.converted if not problems else "BUG: " + problems[0]), problems
    if rc != 2:
        problems.append(f"exit status {rc}, expected 2: {' | '.join(lines)[:300]}")
    else:
        if len(lines) != 1 or not lines[0].startswith("tfjs-lite: error:"):
            problems.append(f"not one error line: {lines[:3]}")
        else:
            names = case.names or (case.input.name,)
            bad = [t for t in case.forbid if t in lines[0]]
            if bad:
                problems.append(f"refused only by accident ({bad[0]!r}): {lines[0][:200]}")
            if not any(n in lines[0] for n in names):
                problems.append(f"the error does not name the input ({'/'.join(names)}): {lines[0][:200]}")
    if result["output_exists"]:
        problems.append("an output was left behind")
        _remove(case.output)
    if result["after"] != result["before"]:
        problems.append(f"files left in the output folder: {sorted(set(result['after']) - set(result['before']))}")
    if problems:
        return "BUG: " + problems[0].split(":")[0], problems
    return "refused (exit 2, one line)", problems


def _leaks(output: Path, secret: bytes) -> bool:
    paths = [output] if output.is_file() else list(output.rglob("*")) if output.exists() else []
    return any(p.is_file() and secret in p.read_bytes() for p in paths)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def run_and_judge(cases: list[Case], work: Path) -> list[str]:
    """Run, judge and record every case; returns the problems, one line per failing case."""
    results, peak = run_cases(cases, work)
    failures = []
    for case in cases:
        outcome, problems = judge(case, results[case.id])
        failures.extend(account(case, outcome, problems))
    # The whole batch runs in one process: its peak bounds every case's (the interpreter and
    # every tfjs_lite module, imported up front, take about 70-100 MB of it).
    largest = max(_size(c.input) for c in cases)
    limit = INTERPRETER_ALLOWANCE + 10 * largest + 100 * MB
    if peak > limit:
        failures.append(f"batch peak RSS {peak / MB:.0f} MB > {limit / MB:.0f} MB (largest input {largest} bytes)")
    return failures


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def account(case: Case, outcome: str, problems: list[str]) -> list[str]:
    """Record a judged case; returns the failure lines the test must report."""
    known = KNOWN_BUGS.get(case.id)
    if known and problems and not STRICT:
        record(case.cls, f"BUG (known, {known})")
        return []
    record(case.cls, outcome)
    if known and not problems:
        return [f"{case.id}: known bug ({known}) no longer shows: remove it from KNOWN_BUGS and BUGS.md"]
    return [f"{case.id}: {'; '.join(problems)}"] if problems else []


def refused_by_size(work: Path, head: bytes, suffix: str, case_id: str, cls: str,
                    flags: Iterable[str] = ()) -> list[str]:
    """A sparse file of > 2 GiB starting with ``head`` (no disk used) must be refused from its size,
    without being read: its peak RSS may not exceed an empty input's by more than 100 MB."""
    (work / "out").mkdir(exist_ok=True)
    huge = work / f"huge{suffix}"
    with open(huge, "wb") as f:
        f.write(head)
        f.truncate(2**31 + 4096)
    empty = work / f"empty{suffix}"
    empty.write_bytes(b"")
    base = run_cases([Case("base", "base", empty, work / "out" / "base", list(flags))], work)[1]
    case = Case(case_id, cls, huge, work / "out" / "huge", list(flags))
    results, peak = run_cases([case], work, timeout=120)
    outcome, problems = judge(case, results[case.id])
    if peak > base + 100 * MB:  # refusing by size reads nothing: the 10x-size allowance does not apply
        problems.append(f"peak RSS {peak / MB:.0f} MB: the file was read instead of refused by its size")
        outcome = "BUG: read instead of refused by size"
    return account(case, outcome, problems)


def pristine_check(source: Path, output: Path, work: Path, flags: Iterable[str] = ()) -> Optional[str]:
    """Convert an unmodified fixture; None if it converts, else the error (hostile results on a
    pipeline that cannot convert valid models prove little)."""
    case = Case("pristine", "pristine", source, output, list(flags))
    result = run_cases([case], work)[0]["pristine"]
    _remove(output)
    if result.get("rc") == 0:
        return None
    return (result.get("stderr") or str(result)).strip()[:400]


# --------------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------------


def write_zip(path: Path, members: list[tuple[Any, bytes]], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for info, data in members:
            z.writestr(info, data)
    return path


def symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777
    return info


def zip_bomb(path: Path, member: str, size: int, extra: list[tuple[Any, bytes]] = ()) -> Path:
    """A zip whose ``member`` inflates ``size`` zero bytes from a few hundred KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info, data in extra:
            z.writestr(info, data)
        chunk = bytes(1 << 22)
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 1  # noqa: SLF001 - fast; zeros deflate ~1000:1 anyway
        with z.open(info, "w", force_zip64=True) as f:
            left = size
            while left > 0:
                f.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


def lambda_payload(marker: Path) -> list:
    """A Keras Lambda ``function`` field whose marshalled code creates ``marker`` if ever run."""
    import base64
    import marshal

    source = f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]"
    code = compile(source, "<hostile>", "eval").co_consts[0]
    return [base64.b64encode(marshal.dumps(code)).decode("ascii"), None, None]


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def h5_edit(src: Path, dst: Path, edit: Callable[[Any], None]) -> Path:
    import h5py

    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst
