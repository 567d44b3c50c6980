"""Run a command and report its wall time and peak RSS (the child's own ru_maxrss).

Used by benchmarks/run.py so that every figure (ours, the official converter's and the floor) is
measured the same way: one fresh process per measurement.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence


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
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
    )
    # wait4 gives the rusage of this one child, not of every child this process ever had.
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    seconds = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    return Measurement(seconds, usage.ru_maxrss / 1024.0, code, stderr, usage.ru_utime + usage.ru_stime)
