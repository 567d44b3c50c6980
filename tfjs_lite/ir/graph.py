"""The graph IR: a small class that owns an ``nx.MultiDiGraph`` and is the only code that edits it.

Node key = TF node name.  Node data (see docs/ir.md §1):

* ``op``        TF op type (``"Conv2D"``, ``"_FusedConv2D"``);
* ``attrs``     ``dict[str, AttrValue]`` in the plain-Python form of :mod:`tfjs_lite.ir.attrs`;
* ``value``     ``np.ndarray`` for ``Const`` (read-only), else ``None``;
* ``out_types`` ``tuple[TensorType, ...]`` per output port, or ``None`` when unknown;
* ``device``    kept for round trips only;
* ``origin``    names of the nodes this one was folded or fused from.

Edges ``(src, dst, key)``: a data edge has ``key = dst slot`` (int) and data
``src_port``/``control=False``; a control edge has ``key = "^" + src`` and ``control=True``.
Parallel edges are allowed (``Mul(x, x)`` reads ``x`` twice).

Storage is one ``nx.MultiDiGraph`` (``Graph._nx``).  Edits go through networkx (``add_node``,
``add_edge``, ``remove_edge``, ``remove_node``); the hot read paths look at its adjacency dicts
(``_node``, ``_pred``, ``_succ``: plain dicts) directly instead of building edge views.  The
topological order, acyclicity and cycle reports come from networkx
(``lexicographical_topological_sort``, ``is_directed_acyclic_graph``, ``find_cycle``).  Two derived
caches: each node's ordered data and control inputs (dropped when its in-edges change) and the
topological order (dropped on structural edits other than removing a node).

TF1 loops (``Enter/Merge/Switch/NextIteration/Exit``) are cyclic.  The IR stays a DAG by keeping
every in-edge of a ``NextIteration`` node as a *back edge* outside the networkx graph; the
accessors (:meth:`inputs_of`, :meth:`consumers`, :meth:`replace_uses`, ...) treat back edges like
ordinary edges, so passes see them but ``topo_order`` stays well defined.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import networkx as nx
import numpy as np

from tfjs_lite.errors import InvariantError
from tfjs_lite.ir.attrs import FuncRef, dtype_of
from tfjs_lite.ir.checks import check_graph
from tfjs_lite.ir.function import ArgDef, FunctionSignature
from tfjs_lite.ir.tensor import TensorRef, TensorType
from tfjs_lite.lazy_tensor import LazyTensor

__all__ = ["ArgDef", "FunctionSignature", "Graph", "TensorRef", "TensorType", "describe_cycle"]

BACK_EDGE_OPS = frozenset({"NextIteration", "RefNextIteration"})

# networkx caches its node, edge and degree views on the graph (functools.cached_property), and
# most views point back at the graph.  A graph an algorithm has run on would then be freed only by
# the cycle collector, thousands of dicts at a time; :func:`_drop_views` forgets them after each use.
_NX_VIEWS = frozenset(name for cls in nx.MultiDiGraph.__mro__ for name, attr in vars(cls).items()
                      if isinstance(attr, functools.cached_property))


class Graph:
    """A TF graph: nodes, typed edges, signature, function library and variables.

    Attributes:
        inputs: Signature key -> fed tensor (usually a ``Placeholder`` or ``_Arg``), in order.
        outputs: Signature key -> fetched tensor, in order.
        functions: Function name -> body graph (until inlined).
        variables: Checkpoint key -> value, filled by the SavedModel reader.
        meta: Free-form facts for round trips (``versions``, tags, ...).
        signature: Set only on function bodies.
        keep_nodes: Nodes a prune keeps alive although no output reads them
            (see :mod:`tfjs_lite.ir.liveness`).
        initializer: The graph that fills hash tables before the model runs (TF.js
            ``modelInitializer``), or None.
        initializer_outputs: ``"node:port"`` of each initializer output -> the resource it fills.
    """

    def __init__(self, *, signature: FunctionSignature | None = None) -> None:
        self._bind(nx.MultiDiGraph())
        # Derived caches: node -> (data inputs in slot order, sorted control inputs), dropped when
        # the node's in-edges change; the topological order (a dict used as an ordered set),
        # dropped on structural edits except node removal, which cannot reorder the rest.
        self._ins: dict[str, tuple[list[TensorRef], list[str]]] = {}
        self._topo: dict[str, None] | None = None
        # NextIteration name -> {edge key: source ref}; see the module docstring.
        self._back: dict[str, dict[int | str, TensorRef]] = {}
        self.inputs: dict[str, TensorRef] = {}
        self.outputs: dict[str, TensorRef] = {}
        self.functions: dict[str, Graph] = {}
        self.variables: dict[str, np.ndarray] = {}
        self.meta: dict[str, Any] = {}
        self.signature = signature
        self.keep_nodes: set[str] = set()
        self.initializer: Graph | None = None
        self.initializer_outputs: dict[str, int] = {}

    def _bind(self, graph: nx.MultiDiGraph) -> None:
        # The networkx graph and its adjacency dicts (node -> data, dst -> src -> key -> edge data,
        # src -> dst -> key -> edge data).  They are read directly; edits go through networkx.
        self._nx = graph
        self._node: dict[str, dict[str, Any]] = graph._node
        self._pred: dict[str, dict[str, dict[int | str, dict[str, Any]]]] = graph._pred
        self._succ: dict[str, dict[str, dict[int | str, dict[str, Any]]]] = graph._succ

    # ------------------------------------------------------------------ node access
    def __contains__(self, name: object) -> bool:
        return name in self._node

    def __len__(self) -> int:
        return len(self._node)

    def nodes(self) -> list[str]:
        """All node names in insertion order."""
        return list(self._node)

    def op(self, name: str) -> str:
        """The op type of node ``name``."""
        return str(self._node[name]["op"])

    def attrs(self, name: str) -> dict[str, Any]:
        """The attr dict of node ``name``; editing it in place is allowed (it holds no edges)."""
        attrs: dict[str, Any] = self._node[name]["attrs"]
        return attrs

    def value(self, name: str) -> np.ndarray | None:
        """The read-only value of a ``Const`` node, else None."""
        value: np.ndarray | None = self._node[name]["value"]
        return value

    def out_types(self, name: str) -> tuple[TensorType, ...] | None:
        """Per-port output types when known."""
        types: tuple[TensorType, ...] | None = self._node[name]["out_types"]
        return types

    def device(self, name: str) -> str:
        """The device string (round trip only)."""
        return str(self._node[name]["device"])

    def origin(self, name: str) -> tuple[str, ...]:
        """Names of the nodes this node was folded or fused from."""
        return tuple(self._node[name]["origin"])

    def nodes_by_op(self, *ops: str) -> list[str]:
        """Names of nodes whose op is one of ``ops``, in insertion order."""
        wanted = set(ops)
        return [n for n, d in self._node.items() if d["op"] in wanted]

    def set_op(self, name: str, op: str) -> None:
        """Change a node's op type in place (e.g. ``Add`` -> ``BiasAdd``)."""
        self._node[name]["op"] = op

    def set_attr(self, name: str, key: str, value: Any) -> None:
        """Set one attr."""
        self._node[name]["attrs"][key] = value

    def set_value(self, name: str, array: np.ndarray) -> None:
        """Give a ``Const`` a new value (a fresh read-only array; the old one is never mutated)."""
        self._node[name]["value"] = _frozen(array)
        self._node[name]["attrs"]["dtype"] = dtype_of(array)

    def set_out_types(self, name: str, types: Sequence[TensorType] | None) -> None:
        """Record the output types of a node."""
        self._node[name]["out_types"] = None if types is None else tuple(types)

    def set_device(self, name: str, device: str) -> None:
        """Set the device string."""
        self._node[name]["device"] = device

    def unique_name(self, base: str) -> str:
        """A node name derived from ``base`` that is not in use."""
        name, counter = base, 0
        while name in self._node:
            counter += 1
            name = f"{base}_{counter}"
        return name

    # ------------------------------------------------------------------ construction
    def add_op(
        self,
        op: str,
        inputs: Sequence[TensorRef] = (),
        attrs: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        control_inputs: Iterable[str] = (),
        out_types: Sequence[TensorType] | None = None,
        device: str = "",
        origin: Iterable[str] = (),
    ) -> str:
        """Add a node and its in-edges.

        Args:
            op: TF op type.
            inputs: Data inputs in slot order.
            attrs: Attr dict (copied).  Defaults to ``{}``.
            name: Node name; must be unused.  Defaults to a fresh name derived from ``op``.
            control_inputs: Names of nodes this one must run after.
            out_types: Output types when known.
            device: Device string, kept for round trips.
            origin: Nodes this one replaces (debugging).

        Returns:
            The node name.

        Raises:
            InvariantError: If ``name`` is taken or an input node does not exist.
        """
        if name is None:
            name = self.unique_name(op)
        elif name in self._node:
            raise InvariantError(f"node {name!r} already exists")
        self._nx.add_node(
            name,
            op=op,
            attrs=dict(attrs or {}),
            value=None,
            out_types=None if out_types is None else tuple(out_types),
            device=device,
            origin=tuple(origin),
        )
        self._topo = None
        if op in BACK_EDGE_OPS:
            self._back[name] = {}
        for slot, ref in enumerate(inputs):
            self._connect(TensorRef(*ref), name, slot)
        for src in control_inputs:
            self.add_control_input(name, src)
        return name

    def add_const(self, array: np.ndarray, *, name: str | None = None, device: str = "") -> TensorRef:
        """Add a ``Const`` node holding a read-only copy of ``array`` (no copy if already read-only)."""
        value = _frozen(array)
        dtype = dtype_of(value)
        node = self.add_op(
            "Const",
            attrs={"dtype": dtype},
            name=name or self.unique_name("Const"),
            out_types=[TensorType(dtype, tuple(value.shape))],
            device=device,
        )
        self._node[node]["value"] = value
        return TensorRef(node, 0)

    def _connect(self, ref: TensorRef, dst: str, slot: int) -> None:
        # Callers free `slot` first (a new node, set_inputs, set_input), so no lookup is needed.
        if ref.node not in self._node:
            raise InvariantError(f"input {ref} of node {dst!r} does not exist")
        if dst in self._back:
            self._back[dst][slot] = ref
            return
        self._nx.add_edge(ref.node, dst, slot, src_port=ref.port, control=False)
        self._edited(dst)

    def _remove_edge(self, src: str, dst: str, key: int | str) -> None:
        self._nx.remove_edge(src, dst, key)
        self._edited(dst)

    def _edited(self, dst: str) -> None:
        # The in-edges of `dst` changed.
        self._ins.pop(dst, None)
        self._topo = None

    def _in_lists(self, name: str) -> tuple[list[TensorRef], list[str]]:
        # Data inputs in slot order and sorted control inputs, from one pass over the in-edges.
        cached = self._ins.get(name)
        if cached is None:
            slots, controls = [], []
            for u, keys in self._pred[name].items():
                for k, d in keys.items():
                    if k.__class__ is str:
                        controls.append(u)
                    else:
                        slots.append((k, u, d["src_port"]))
            slots.sort()
            controls.sort()
            cached = self._ins[name] = ([TensorRef(u, port) for _, u, port in slots], controls)
        return cached

    # ------------------------------------------------------------------ queries
    def inputs_of(self, name: str) -> list[TensorRef]:
        """Data inputs of ``name`` in slot order."""
        if name in self._back:
            return [r for k, r in sorted(_data_items(self._back[name]))]
        return list(self._in_lists(name)[0])

    def control_inputs_of(self, name: str) -> list[str]:
        """Names of the control dependencies of ``name``, sorted."""
        if name in self._back:
            return sorted(r.node for k, r in self._back[name].items() if isinstance(k, str))
        return list(self._in_lists(name)[1])

    def ancestors(self, roots: Iterable[str]) -> set[str]:
        """``roots`` and every node they depend on through data, control or loop back edges."""
        found: set[str] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node in found:
                continue
            found.add(node)
            stack.extend(r.node for r in self.inputs_of(node))
            stack.extend(self.control_inputs_of(node))
        return found

    def consumers(self, ref: TensorRef) -> list[tuple[str, int]]:
        """``(consumer node, slot)`` pairs reading ``ref``, sorted; graph outputs not included."""
        node, port = ref
        found = [(v, k) for v, keys in self._succ[node].items() for k, d in keys.items()
                 if isinstance(k, int) and d["src_port"] == port]
        for dst, edges in self._back.items():
            found.extend((dst, k) for k, r in _data_items(edges) if r == ref)
        return sorted(found)

    def node_consumers(self, name: str) -> list[str]:
        """Names of all nodes with a data or control edge from ``name``, sorted, unique."""
        found = set(self._succ[name])
        found.update(dst for dst, e in self._back.items() if any(r.node == name for r in e.values()))
        return sorted(found)

    def control_consumers(self, name: str) -> list[str]:
        """Nodes that have a control dependency on ``name``, sorted."""
        key = "^" + name
        found = {v for v, keys in self._succ[name].items() if key in keys}
        found.update(dst for dst, e in self._back.items() if key in e)
        return sorted(found)

    def is_output(self, ref: TensorRef) -> bool:
        """True if ``ref`` is a signature output."""
        return ref in self.outputs.values()

    def back_edges(self) -> dict[str, list[TensorRef]]:
        """NextIteration node -> its data inputs (the loop back edges kept outside the DAG)."""
        return {n: self.inputs_of(n) for n in sorted(self._back)}

    def topo_order(self) -> list[str]:
        """Node names in a deterministic (lexicographic tie-break) topological order.

        Raises:
            InvariantError: If the graph has a cycle (outside NextIteration back edges); readers
                refuse cyclic inputs (:meth:`find_cycle`), so this is a bug in a pass.
        """
        order = self._sorted()
        if order is None:
            cycle = self.find_cycle() or ["?"]
            raise InvariantError(f"the graph has a cycle: {describe_cycle(cycle)}")
        return list(order)

    def find_cycle(self) -> list[str] | None:
        """Node names along one cycle (data or control edges, back edges excluded), or None."""
        if self._sorted() is not None:  # a DAG: the order is kept for the next topo_order
            return None
        try:
            return one_cycle(self._nx)
        finally:
            _drop_views(self._nx)

    def _sorted(self) -> dict[str, None] | None:
        # The cached lexicographic topological order, computed on demand; None on a cycle.
        if self._topo is None:
            try:
                self._topo = dict.fromkeys(nx.lexicographical_topological_sort(self._nx))
            except nx.NetworkXUnfeasible:
                return None
            finally:
                _drop_views(self._nx)
        return self._topo

    # ------------------------------------------------------------------ mutation
    def set_input(self, name: str, slot: int, ref: TensorRef) -> None:
        """Make data slot ``slot`` of ``name`` read ``ref``; ``slot`` may append one new slot."""
        ref = TensorRef(*ref)
        current = self.inputs_of(name)
        n_inputs = len(current)
        if not 0 <= slot <= n_inputs:
            raise InvariantError(f"slot {slot} out of range for node {name!r} ({n_inputs} inputs)")
        if name not in self._back and slot < n_inputs:
            pred = self._pred[name]
            src: str | None = current[slot].node
            if slot not in pred[current[slot].node]:  # slots are 0..n-1 unless check() would fail
                src = next((u for u, keys in pred.items() if slot in keys), None)
            if src is not None:
                self._remove_edge(src, name, slot)
        self._connect(ref, name, slot)

    def set_inputs(self, name: str, refs: Sequence[TensorRef]) -> None:
        """Replace all data inputs of ``name`` (control inputs are kept)."""
        if name in self._back:
            self._back[name] = {k: r for k, r in self._back[name].items() if isinstance(k, str)}
        else:
            for src, keys in list(self._pred[name].items()):
                for k in [k for k in keys if k.__class__ is not str]:
                    self._remove_edge(src, name, k)
        for slot, ref in enumerate(refs):
            self._connect(TensorRef(*ref), name, slot)

    def add_control_input(self, name: str, src: str) -> None:
        """Make ``name`` run after ``src`` (idempotent)."""
        if src not in self._node:
            raise InvariantError(f"control input {src!r} of node {name!r} does not exist")
        key = "^" + src
        if name in self._back:
            self._back[name][key] = TensorRef(src, -1)
        elif key not in self._pred[name].get(src, ()):
            self._nx.add_edge(src, name, key, src_port=-1, control=True)
            self._edited(name)

    def remove_control_input(self, name: str, src: str) -> None:
        """Drop the control dependency ``^src`` of ``name`` if present."""
        key = "^" + src
        if name in self._back:
            self._back[name].pop(key, None)
        elif key in self._pred[name].get(src, ()):
            self._remove_edge(src, name, key)

    def replace_uses(self, old: TensorRef, new: TensorRef, *, skip: Iterable[str] = ()) -> int:
        """Point every data consumer and signature output of ``old`` at ``new``.

        Args:
            old: The tensor whose uses move.
            new: The replacement tensor.
            skip: Consumers left alone, typically the node that computes ``new`` from ``old``
                (inserting ``y = f(x)`` after ``x`` would otherwise make ``f`` read itself).

        Returns:
            The number of rewritten uses (consumer slots plus outputs).
        """
        old, new = TensorRef(*old), TensorRef(*new)
        skipped = set(skip)
        uses = [(dst, slot) for dst, slot in self.consumers(old) if dst not in skipped]
        for dst, slot in uses:
            self.set_input(dst, slot, new)
        count = len(uses)
        for key, ref in self.outputs.items():
            if ref == old:
                self.outputs[key] = new
                count += 1
        return count

    def remove(self, name: str) -> None:
        """Delete a node and its in-edges.

        Raises:
            InvariantError: If any node (data or control) or signature output still uses it.
        """
        users = self.node_consumers(name)
        outs = [k for k, r in self.outputs.items() if r.node == name]
        if users or outs:
            raise InvariantError(
                f"cannot remove node {name!r}: still used by nodes {users} / outputs {outs}")
        self._nx.remove_node(name)
        self._ins.pop(name, None)
        if self._topo is not None:
            # `name` had no out-edges, so it never held back another node: the lexicographic
            # order of the rest is unchanged (saves a sort after every dead-node sweep).
            del self._topo[name]
        self._back.pop(name, None)
        for key in [k for k, r in self.inputs.items() if r.node == name]:
            del self.inputs[key]

    def copy(self) -> Graph:
        """A structural copy; Const arrays are shared (they are read-only), attr dicts are not."""
        other = Graph(signature=self.signature)
        other._nx.add_nodes_from(
            (name, {**data, "attrs": {k: list(v) if isinstance(v, list) else v
                                      for k, v in data["attrs"].items()}})
            for name, data in self._node.items()
        )
        other._nx.add_edges_from((u, v, k, data) for u, nbrs in self._succ.items()
                                 for v, keys in nbrs.items() for k, data in keys.items())
        other._ins = dict(self._ins)  # the cached lists are never edited in place
        other._topo = None if self._topo is None else dict(self._topo)
        other._back = {k: dict(v) for k, v in self._back.items()}
        other.inputs = dict(self.inputs)
        other.outputs = dict(self.outputs)
        other.functions = {k: g.copy() for k, g in self.functions.items()}
        other.variables = dict(self.variables)
        other.meta = dict(self.meta)
        other.keep_nodes = set(self.keep_nodes)
        other.initializer = self.initializer  # never rewritten by passes; shared like Const arrays
        other.initializer_outputs = dict(self.initializer_outputs)
        return other

    def check(self, *, library: dict[str, Graph] | None = None) -> None:
        """Verify the IR invariants (docs/ir.md §2).

        Args:
            library: Functions visible to this graph; defaults to ``self.functions``.

        Raises:
            InvariantError: Naming the first node or signature entry that breaks an invariant.
        """
        check_graph(self, library=self.functions if library is None else library)

    def iter_attr_funcs(self, name: str) -> Iterator[FuncRef]:
        """Every FuncRef in the attrs of ``name`` (including inside lists)."""
        for value in self.attrs(name).values():
            items = value if isinstance(value, list) else [value]
            yield from (v for v in items if isinstance(v, FuncRef))

    def _edges(self) -> Iterator[tuple[str, str, int | str, dict[str, Any]]]:
        # Read-only edge iteration for ir.checks (as networkx's edges(keys=True, data=True), without
        # caching a view); outside ir/ nobody touches the networkx graph.
        for u, nbrs in self._succ.items():
            for v, keys in nbrs.items():
                for key, data in keys.items():
                    yield u, v, key, data

    def _is_dag(self) -> bool:
        if self._topo is not None:
            return True
        try:
            return bool(nx.is_directed_acyclic_graph(self._nx))
        finally:
            _drop_views(self._nx)

    def _data_slots(self, name: str) -> list[int]:
        # All data-edge keys into `name`, duplicates kept, so check() can spot doubled slots.
        if name in self._back:
            return sorted(k for k in self._back[name] if isinstance(k, int))
        return sorted(k for keys in self._pred[name].values() for k in keys if not isinstance(k, str))

    def _back_items(self) -> dict[str, dict[int | str, TensorRef]]:
        return self._back


def one_cycle(graph: nx.DiGraph) -> list[str]:
    """Node names along one cycle of a graph known to have one, in linear time.

    ``nx.find_cycle`` on the whole graph restarts its search from every node: quadratic on a long
    acyclic chain (a hostile file of 2000 chained functions took a minute). The search is limited
    to one strongly connected component that holds a cycle, from one of its nodes."""
    for component in nx.strongly_connected_components(graph):
        node = next(iter(component))
        if len(component) > 1 or graph.has_edge(node, node):
            start = min(component)
            return [str(edge[0]) for edge in nx.find_cycle(graph.subgraph(component), source=start)]
    return []


def describe_cycle(cycle: Sequence[str], limit: int = 6) -> str:
    """``node 'a' is on a cycle (a -> b -> a)``, shortened after ``limit`` nodes."""
    shown = " -> ".join(list(cycle[:limit]) + ([cycle[0]] if len(cycle) <= limit else ["..."]))
    return f"node {cycle[0]!r} is on a cycle ({shown})"


def _drop_views(graph: nx.MultiDiGraph) -> None:
    # See _NX_VIEWS.
    cached = vars(graph)
    for name in _NX_VIEWS.intersection(cached):
        del cached[name]


def _data_items(edges: dict[int | str, TensorRef]) -> list[tuple[int, TensorRef]]:
    return [(k, r) for k, r in edges.items() if isinstance(k, int)]


def _frozen(array: np.ndarray) -> np.ndarray:
    # A read-only view: passes must build new arrays, which keeps copy() cheap and safe.
    # Copy once when the caller still holds a writeable array, so later edits cannot leak in.
    if isinstance(array, LazyTensor):  # immutable and unread: kept as it is (tfjs_lite.lazy_tensor)
        return array
    value = np.asarray(array)
    if value.flags.writeable:
        value = value.copy()
        value.setflags(write=False)
    return value
