"""Run a command and report its wall time and peak RSS (the child's own ru_maxrss).

Used by benchmarks/run.py so that every figure (ours, the official converter's and the floor) is
measured the same way: one fresh process per measurement.

Linux charges a child with the peak RSS of the address space it was forked from until its
``exec`` (``ru_maxrss`` keeps the high-water mark of the pre-exec image), so a child forked from a
benchmark driver that has numpy and h5py loaded would never report less than the driver's RSS.
The command is therefore started by a tiny launcher (this file run as a script with ``python -I
-S``, a few MB): it spawns the command, ``wait4``s for it and writes the child's own wall time,
peak RSS and CPU time to a result file.
"""

from __future__ import annotations

import os
import sys
import time


def _launch(result_path: str, command: list) -> int:
    """Launcher side: spawn, wait4, write ``seconds maxrss_kb cpu_seconds status``."""
    started = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    with open(result_path, "w") as f:
        f.write(f"{seconds} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime} {status}\n")
    return 0


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1], sys.argv[2:]))

import subprocess  # noqa: E402  (driver side only)
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Mapping, Optional, Sequence  # noqa: E402


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr: str
    cpu_seconds: float = 0.0  # user + system CPU time of the child (steadier than wall time on a busy machine)


def measure(
    command: Sequence[str], *, env: Optional[Mapping[str, str]] = None, timeout: float = 1800
) -> Measurement:
    with tempfile.NamedTemporaryFile("r", suffix=".measure") as result:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), result.name, *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            timeout=timeout,
        )
        fields = open(result.name).read().split()
    stderr = proc.stderr.decode(errors="replace")
    if len(fields) != 4:
        return Measurement(0.0, 0.0, proc.returncode or 1, stderr or "launcher failed")
    seconds, maxrss_kb, cpu, status = float(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
    return Measurement(seconds, maxrss_kb / 1024.0, os.waitstatus_to_exitcode(status), stderr, cpu)
