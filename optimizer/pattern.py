"""A small tree matcher for fusion rules.

A pattern is a tree of :class:`P` nodes written like the ops it matches::

    BIAS_ADD = P("BiasAdd", P("Conv2D", P(name="x"), P(name="w"), name="conv"),
                 P(const=True, name="b"), name="bias_add")

* ``P(op, *inputs)`` matches a node whose op is ``op`` (a string or a set of strings) reading
  output port 0 of the matched producer, with exactly ``len(inputs)`` data inputs when inputs are
  given (no inputs = inputs not checked).
* ``P()`` (no op) matches any tensor; ``P(const=True)`` any ``Const`` tensor.
* ``commute=True`` on a two-input pattern also tries the inputs swapped (``Add``, ``Mul``).
* ``name=`` binds the matched tensor in :attr:`Match.refs` / node in :attr:`Match.nodes`.

:meth:`Match.removable` is the safety check of every rewrite (onnxscript's
``_valid_to_replace``): no matched *interior* node (an op pattern that is not the root and not a
Const leaf) may have a consumer outside the match or be a graph output, since the rewrite deletes
or changes it.  That is the check the official ``fuse_depthwise_conv2d`` lacks.

Passes do not call it themselves: a :class:`Rule` (patterns, an optional pass-specific ``reject``
and the ``rewrite``) is applied by :func:`apply_rules`, which checks ``removable`` first and logs
the reason whenever a match is not rewritten, so no fusion can forget the check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tfjs_lite.ir import Graph, TensorRef

__all__ = ["Match", "P", "Rule", "apply_rules", "match"]

logger = logging.getLogger(__name__)


class P:
    """One pattern node (see the module docstring)."""

    def __init__(self, op: str | frozenset[str] | set[str] | None = None, *inputs: P,
                 name: str | None = None, const: bool = False, commute: bool = False) -> None:
        self.ops: frozenset[str] | None = (
            None if op is None else frozenset([op]) if isinstance(op, str) else frozenset(op))
        self.inputs = inputs
        self.name = name
        self.const = const
        self.commute = commute
        if commute and len(inputs) != 2:
            raise ValueError("commute=True needs exactly two input patterns")

    def __repr__(self) -> str:
        ops = "*" if self.ops is None else "|".join(sorted(self.ops))
        return f"P({ops}{', const' if self.const else ''}{', ' + self.name if self.name else ''})"


@dataclass
class Match:
    """A successful match.

    Attributes:
        root: The node the pattern's root matched.
        refs: Bound tensors by pattern name.
        interior: Matched op nodes other than the root and Const leaves, in match order.
    """

    root: str
    refs: dict[str, TensorRef] = field(default_factory=dict)
    interior: list[str] = field(default_factory=list)

    def node(self, name: str) -> str:
        """The node bound to pattern name ``name``."""
        return self.refs[name].node

    def removable(self, graph: Graph) -> str | None:
        """None if every interior node is consumed only inside the match; else the reason."""
        inside = set(self.interior) | {self.root}
        for n in self.interior:
            if any(r.node == n for r in graph.outputs.values()):
                return f"{n!r} is a graph output"
            outside = [c for c in graph.node_consumers(n) if c not in inside]
            if outside:
                return f"{n!r} is also consumed by {outside[0]!r}"
            reads = sum(1 for c in inside for r in graph.inputs_of(c) if r.node == n)
            if reads != 1:
                return f"{n!r} is read {reads} times inside the pattern"
        return None


def match(graph: Graph, root: str, pattern: P) -> Match | None:
    """Match ``pattern`` with its root at node ``root``.

    Returns:
        The first match (in input order, unswapped before swapped), or None.
    """
    if pattern.ops is None or graph.op(root) not in pattern.ops:
        return None
    for m in _match_node(graph, TensorRef(root, 0), pattern, Match(root), is_root=True):
        return m
    return None


def _accept_all(graph: Graph, m: Match) -> str | None:
    return None


@dataclass(frozen=True)
class Rule:
    """One rewrite: where it applies, when it must not, and what it does.

    Attributes:
        patterns: Tried in order at each candidate root; the first match that passes the checks
            is rewritten.
        rewrite: ``rewrite(graph, match)`` edits the graph; called only on a match whose interior
            nodes are removable and which ``reject`` accepted.
        reject: ``reject(graph, match)`` returns why the pass must not fire here (logged at
            DEBUG), or None.  Defaults to accepting every removable match.
    """

    patterns: tuple[P, ...]
    rewrite: Callable[[Graph, Match], None]
    reject: Callable[[Graph, Match], str | None] = _accept_all

    def root_ops(self) -> frozenset[str]:
        """The ops a root node can have for any of the patterns."""
        ops: set[str] = set()
        for pat in self.patterns:
            if pat.ops is None:
                raise ValueError("the root pattern needs an op")
            ops |= pat.ops
        return frozenset(ops)


def apply_rules(graph: Graph, name: str, rules: tuple[Rule, ...] | list[Rule], *,
                consumers_first: bool = False) -> bool:
    """Apply ``rules`` at every node, in (reverse with ``consumers_first``) topological order.

    At each node still in the graph the rules are tried in order and the first acceptable match
    is rewritten.  A match is acceptable when :meth:`Match.removable` and the rule's ``reject``
    both return None; otherwise the reason is logged as ``"<name>: not at <node>: <reason>"``.

    Args:
        graph: The graph to rewrite.
        name: The pass name, for the log lines.
        rules: The rules.
        consumers_first: Visit consumers before producers, so the longest chain is matched at
            its end (``act(BiasAdd(conv))`` at the activation, not at the BiasAdd).

    Returns:
        True iff any rule rewrote the graph.
    """
    roots = [rule.root_ops() for rule in rules]
    every_root = frozenset().union(*roots)
    order = graph.topo_order()
    changed = False
    for n in reversed(order) if consumers_first else order:
        if n not in graph or graph.op(n) not in every_root:
            continue
        changed |= _apply_at(graph, name, n, rules, roots)
    return changed


def _apply_at(graph: Graph, name: str, n: str, rules: tuple[Rule, ...] | list[Rule],
              roots: list[frozenset[str]]) -> bool:
    for rule, ops in zip(rules, roots):
        if graph.op(n) not in ops:
            continue
        for pat in rule.patterns:
            m = match(graph, n, pat)
            if m is None:
                continue
            reason = m.removable(graph) or rule.reject(graph, m)
            if reason:
                logger.debug("%s: not at %s: %s", name, n, reason)
                continue
            rule.rewrite(graph, m)
            return True
    return False


def _match_node(graph: Graph, ref: TensorRef, pat: P, m: Match, *, is_root: bool) -> Iterator[Match]:
    op = graph.op(ref.node)
    if pat.const and op != "Const":
        return
    if pat.ops is not None:
        if op not in pat.ops or ref.port != 0:
            return
        if pat.name and pat.name in m.refs and m.refs[pat.name] != ref:
            return
    elif pat.name and pat.name in m.refs and m.refs[pat.name] != ref:
        return  # a repeated wildcard name must bind the same tensor (Relu(x) ... Neg(x))
    bound = Match(m.root, dict(m.refs), list(m.interior))
    if pat.name:
        bound.refs[pat.name] = ref
    if pat.ops is not None and not is_root and op != "Const":
        bound.interior.append(ref.node)
    if not pat.inputs:
        yield bound
        return
    inputs = graph.inputs_of(ref.node)
    if len(inputs) != len(pat.inputs):
        return
    orders = [pat.inputs, pat.inputs[::-1]] if pat.commute else [pat.inputs]
    for order in orders:
        yield from _match_inputs(graph, inputs, order, bound)


def _match_inputs(graph: Graph, inputs: list[TensorRef], pats: tuple[P, ...],
                  m: Match) -> Iterator[Match]:
    if not pats:
        yield m
        return
    for first in _match_node(graph, inputs[0], pats[0], m, is_root=False):
        yield from _match_inputs(graph, inputs[1:], pats[1:], first)
