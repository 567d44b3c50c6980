"""lower_string_split: StringSplitV2 => StringSplit (structural: no string kernels)."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from tfjs_lite.optimizer.passes.lower_string_split import LowerStringSplit


def _graph(sep: bytes, maxsplit: int = -1):
    g = GraphBuilder()
    s = g.input("s", (3,), "DT_STRING")
    sep_ref = g.const(np.array(sep, dtype=object), name="sep")
    _idx, values, _shape = g.op("StringSplitV2", s, sep_ref, name="split", outputs=3, maxsplit=maxsplit)
    g.output("values", values)
    return g.build()


def test_empty_separator_is_whitespace_skip_empty() -> None:
    graph = _graph(b"")
    assert LowerStringSplit().run(graph) is True
    graph.check()
    assert graph.op("split") == "StringSplit" and graph.attrs("split")["skip_empty"] is True
    assert graph.value(graph.inputs_of("split")[1].node).item() == b" \t\n\v\f\r"
    assert LowerStringSplit().run(graph) is False


def test_single_char_separator_keeps_empty() -> None:
    graph = _graph(b",")
    assert LowerStringSplit().run(graph) is True
    assert graph.attrs("split")["skip_empty"] is False


def test_not_for_multi_char_separator_or_maxsplit() -> None:
    assert LowerStringSplit().run(_graph(b", ")) is False
    assert LowerStringSplit().run(_graph(b",", maxsplit=1)) is False
