"""Run groups of passes, optionally to a fixpoint, with op-count diffs, timings and checks.

``PassManager(groups, *, check=False).run(graph) -> PassReport``:

1. logs an op-count diff per modifying pass at DEBUG (``Conv2D -3 (3->0), _FusedConv2D +3``);
2. with ``check=True`` calls ``graph.check()`` after every pass;
3. wraps any failure as ``PassError("pass 'x' failed after [...]") from e`` and never continues
   on a half-rewritten graph;
4. returns per-pass modified flags, timings and diffs in a :class:`PassReport`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.errors import ConversionError, InvariantError, PassError
from tfjs_lite.ir import Graph

__all__ = ["PassGroup", "PassManager", "PassRecord", "PassReport", "format_op_diff", "op_counts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassGroup:
    """An ordered list of passes run together.

    Attributes:
        name: Group name for logs (``"simplify"``).
        passes: The passes, in order.
        fixpoint: Repeat the whole group until no pass modifies the graph.
        max_iterations: Bound on fixpoint rounds; hitting it logs a warning (never loops forever).
    """

    name: str
    passes: tuple[Pass, ...]
    fixpoint: bool = False
    max_iterations: int = 8


@dataclass(frozen=True)
class PassRecord:
    """One pass execution."""

    group: str
    iteration: int
    name: str
    modified: bool
    seconds: float
    diff: str


@dataclass
class PassReport:
    """What the optimizer did: one record per pass run, plus node counts."""

    records: list[PassRecord] = field(default_factory=list)
    nodes_before: int = 0
    nodes_after: int = 0

    @property
    def modified(self) -> bool:
        """True if any pass changed the graph."""
        return any(r.modified for r in self.records)

    def seconds_by_pass(self) -> dict[str, float]:
        """Total run time per pass name, in first-run order."""
        totals: dict[str, float] = {}
        for r in self.records:
            totals[r.name] = totals.get(r.name, 0.0) + r.seconds
        return totals

    def summary(self) -> str:
        """A multi-line human summary (pass, runs, modified, time, diffs)."""
        lines = [f"nodes {self.nodes_before} -> {self.nodes_after}"]
        for r in self.records:
            if r.modified:
                lines.append(f"  {r.group}[{r.iteration}] {r.name}: {r.diff or '(attrs only)'}"
                             f" {r.seconds * 1e3:.1f} ms")
        return "\n".join(lines)


def op_counts(graph: Graph) -> Counter[str]:
    """Number of nodes per op type."""
    return Counter(graph.op(n) for n in graph.nodes())


def format_op_diff(before: Counter[str], after: Counter[str]) -> str:
    """``"Conv2D -3 (3->0), _FusedConv2D +3 (0->3)"`` for the op types whose count changed."""
    parts = []
    for op in sorted(set(before) | set(after)):
        b, a = before.get(op, 0), after.get(op, 0)
        if a != b:
            parts.append(f"{op} {a - b:+d} ({b}->{a})")
    return ", ".join(parts)


class PassManager:
    """Runs pass groups in order over one graph.

    Args:
        groups: The groups, in order.
        check: Call ``graph.check()`` after every pass (tests, ``--debug``).  Defaults to False.
    """

    def __init__(self, groups: Sequence[PassGroup], *, check: bool = False) -> None:
        self.groups = tuple(groups)
        self.check = check

    def run(self, graph: Graph, *, report: PassReport | None = None) -> PassReport:
        """Run every group over ``graph`` in place.

        Args:
            graph: The graph to optimize.
            report: Report to append to; a new one by default.

        Returns:
            The report.

        Raises:
            PassError: If a pass raised or (with ``check``) left the graph invalid.
        """
        report = report if report is not None else PassReport()
        report.nodes_before = report.nodes_before or len(graph)
        if self.check:
            graph.check()
        for group in self.groups:
            self._run_group(graph, group, report)
        report.nodes_after = len(graph)
        return report

    def _run_group(self, graph: Graph, group: PassGroup, report: PassReport) -> None:
        rounds = group.max_iterations if group.fixpoint else 1
        for iteration in range(rounds):
            changed = False
            for pass_ in group.passes:
                changed |= self._run_pass(graph, pass_, group.name, iteration, report)
            if not changed or not group.fixpoint:
                return
        logger.warning("pass group %r did not reach a fixpoint in %d iterations",
                       group.name, group.max_iterations)

    def _run_pass(self, graph: Graph, pass_: Pass, group: str, iteration: int,
                  report: PassReport) -> bool:
        before = op_counts(graph)
        start = time.perf_counter()
        try:
            modified = pass_.run(graph)
            if self.check:
                graph.check()
        except ConversionError:
            raise  # bad input found by a pass: the user's one-line error, not a pass failure
        except (PassError, InvariantError, Exception) as e:
            done = [r.name for r in report.records]
            raise PassError(f"pass {pass_.name!r} failed after {done[-8:]}: "
                            f"{type(e).__name__}: {e}") from e
        seconds = time.perf_counter() - start
        if not isinstance(modified, bool):
            raise PassError(f"pass {pass_.name!r} returned {modified!r}, not a bool")
        diff = format_op_diff(before, op_counts(graph)) if modified else ""
        if modified:
            logger.debug("%s: %s", pass_.name, diff or "(attrs only)")
        report.records.append(PassRecord(group, iteration, pass_.name, modified, seconds, diff))
        return modified
