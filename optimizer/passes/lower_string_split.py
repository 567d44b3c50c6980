"""Lower ``StringSplitV2`` (absent from TF.js) to ``StringSplit``.

Before => after (same node name, same three outputs ``indices, values, shape``):

* ``StringSplitV2(s, sep="")`` (``maxsplit=-1``) => ``StringSplit(s, " \\t\\n\\v\\f\\r"; skip_empty=True)``
* ``StringSplitV2(s, sep=c)`` with a one-character ``c`` => ``StringSplit(s, c; skip_empty=False)``

Algebra: V2 with an empty separator splits on runs of ASCII whitespace and drops empty pieces,
which is V1 splitting on any whitespace character with ``skip_empty``; with a one-character
separator both split on every occurrence and keep empty pieces.

Does NOT fire when ``sep`` is not a Const, is longer than one character (V1 would treat it as a
set of characters), or ``maxsplit`` is not -1.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import const_value
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["LowerStringSplit"]

WHITESPACE = b" \t\n\v\f\r"


class LowerStringSplit(Pass):
    """StringSplitV2 with an empty or one-character separator => StringSplit."""

    name = "lower_string_split"

    def run(self, graph: Graph) -> bool:
        """Rewrite eligible nodes; returns True iff any was rewritten."""
        changed = False
        for n in graph.nodes_by_op("StringSplitV2"):
            source, sep_ref = graph.inputs_of(n)
            sep = const_value(graph, sep_ref)
            if sep is None or sep.size != 1 or int(graph.attrs(n).get("maxsplit", -1)) != -1:
                continue
            text = sep.reshape(-1)[0]
            text = text if isinstance(text, bytes) else str(text).encode()
            if len(text) > 1:
                continue
            delimiter = graph.add_const(np.array(text or WHITESPACE, dtype=object),
                                        name=graph.unique_name(f"{n}/delimiter"))
            graph.set_inputs(n, [source, delimiter])
            graph.set_op(n, "StringSplit")
            attrs = graph.attrs(n)
            attrs.pop("maxsplit", None)
            attrs["skip_empty"] = not text
            changed = True
        return changed
