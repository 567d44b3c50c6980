"""Graph optimizer: passes over ``tfjs_lite.ir`` graphs (installed as ``tfjs_lite.optimizer``).

Entry point::

    from tfjs_lite.optimizer import optimize
    report = optimize(graph, skip={"fuse_prelu"}, check=True)

The pass order lives in :mod:`tfjs_lite.optimizer.pipeline`; each pass is one module in
:mod:`tfjs_lite.optimizer.passes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfjs_lite.optimizer.manager import PassGroup, PassManager, PassReport
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.passes.declare_nhwc_io import DeclareNhwcIo
from tfjs_lite.optimizer.pipeline import PASS_NAMES, default_groups

from tfjs_lite.errors import PassError, UsageError
from tfjs_lite.ir import Graph

__all__ = ["PASS_NAMES", "Pass", "PassError", "PassGroup", "PassManager", "PassReport", "optimize"]


def optimize(graph: Graph, *, skip: Iterable[str] = (), strip_debug_ops: bool = True,
             check: bool = False, report: PassReport | None = None, nhwc_inputs: bool = False,
             nhwc_outputs: bool = False) -> PassReport:
    """Optimize ``graph`` in place with the default pipeline.

    Args:
        graph: The graph to rewrite; function bodies in ``graph.functions`` get the
            ``function_identities`` clean-up (debug ops, NoOps, dead nodes, Identity wrappers).
        skip: Pass names to disable (CLI ``--skip_pass``).  Defaults to none.
        strip_debug_ops: Remove the debug ops of ``strip_debug`` (Assert, PrintV2, CheckNumerics,
            EnsureShape, Print).  Defaults to True.
        check: Verify the IR invariants after every pass.  Defaults to False.
        report: A report to append to; a new one by default.
        nhwc_inputs: Declare the 4-D signature inputs NHWC first (for graphs from an NCHW
            source; ``declare_nhwc_io``).  Defaults to False.
        nhwc_outputs: Likewise for the 4-D signature outputs.  Defaults to False.

    Returns:
        Per-pass modified flags, timings and op-count diffs.

    Raises:
        UsageError: If ``skip`` names an unknown pass (the message lists the valid ones).
        PassError: If a pass fails.
    """
    skip_set = frozenset(skip)
    unknown = sorted(skip_set - set(PASS_NAMES))
    if unknown:
        raise UsageError(f"unknown optimizer pass(es) {', '.join(unknown)}; "
                         f"valid names: {', '.join(PASS_NAMES)}")
    groups = default_groups(skip=skip_set, strip_debug_ops=strip_debug_ops)
    if nhwc_inputs or nhwc_outputs:
        declare = DeclareNhwcIo(inputs=nhwc_inputs, outputs=nhwc_outputs)
        groups.insert(0, PassGroup("interface", (declare,)))
    return PassManager(groups, check=check).run(graph, report=report)
