"""The pass interface: a named, in-place, honest whole-graph rewrite.

A pass is a class with a ``name`` (used in logs, reports and ``--skip_pass``) and a
``run(graph) -> bool`` that rewrites the graph in place and returns True iff anything changed.
Passes are idempotent: a second ``run`` on the result returns False.  Failures are wrapped as
:class:`~tfjs_lite.errors.PassError` by the :mod:`tfjs_lite.optimizer.manager`, never swallowed.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from tfjs_lite.errors import PassError
from tfjs_lite.ir import Graph

__all__ = ["Pass", "PassError"]


class Pass(abc.ABC):
    """A whole-graph rewrite applied in place."""

    name: ClassVar[str]

    @abc.abstractmethod
    def run(self, graph: Graph) -> bool:
        """Rewrite ``graph`` in place.

        Args:
            graph: The graph to rewrite.

        Returns:
            True iff the graph changed.
        """

    def __repr__(self) -> str:
        return f"<pass {self.name}>"
