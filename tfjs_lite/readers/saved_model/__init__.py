"""SavedModel (and frozen GraphDef) -> one inlined, frozen, pruned :class:`~tfjs_lite.ir.Graph`.

TF2 SavedModels (docs/formats.md §5, §6): a signature's outputs are ports of one top-level
``StatefulPartitionedCall`` whose ``f`` is the *signature wrapper* function. Like the official
converter (which freezes ``model.signatures[name]``, the wrapper's concrete function), the result
is the wrapper's body at top level:

* user input args become ``Placeholder`` nodes named after the arg (``img``, as ``img:0`` in the
  official ``signature``), keyed by the SignatureDef input they are fed from;
* captured args are resolved through ``SavedObjectGraph.concrete_functions[wrapper].bound_inputs``
  (never by name): variables -> ``Const`` holding the checkpoint value (key from the checkpoint's
  TrackableObjectGraph, matched by object path), captured constants -> ``Const`` with the value of
  the top-level node named by ``SavedConstant.operation``, TrackableResources (hash tables) -> a
  ``DT_RESOURCE`` Placeholder filled by the initializer graph (``Graph.initializer``);
* every ``(Stateful)PartitionedCall`` is inlined recursively, body nodes named ``<call>/<inner>``
  as TF's ``InlineFunctionBody`` does (``StatefulPartitionedCall/model/dense/MatMul``);
* frozen variables: ``ReadVariableOp`` -> ``Identity``, ``ResourceGather`` -> ``GatherV2``,
  ``ResourceGatherNd`` -> ``GatherNd``; a variable flowing into ``While``/``If``/``Case`` gets the
  callee specialised (``<fn>_frozen``) with the resource arg retyped to the value;
* the graph is pruned to the ancestors of the signature outputs, which are keyed by SignatureDef
  output key in sorted order.

TF1 SavedModels keep their top-level graph; variables (``VarHandleOp``/``VariableV2``) are frozen by
name, which is how TF1 checkpoints are keyed.

Modules: :mod:`.loader` (the public entries), :mod:`.proto` (``saved_model.pb``, MetaGraph and
signature choice), :mod:`.tf2` and :mod:`.tf1` (the two SavedModel kinds), :mod:`.captures`
(captured inputs and the checkpoint), :mod:`.initializer` (hash tables), :mod:`.inline` (call
inlining, pruning), :mod:`.freeze` (variables into constants), :mod:`.nodes` (shared helpers).
"""

from tfjs_lite.readers.saved_model.captures import LAZY_MIN_BYTES as LAZY_MIN_BYTES
from tfjs_lite.readers.saved_model.captures import _open_checkpoint as _open_checkpoint
from tfjs_lite.readers.saved_model.inline import CALL_OPS, inline_calls, prune
from tfjs_lite.readers.saved_model.loader import load_frozen_graph, load_saved_model
from tfjs_lite.readers.saved_model.proto import _select_meta_graph as _select_meta_graph
from tfjs_lite.readers.saved_model.proto import read_saved_model_proto

__all__ = [
    "CALL_OPS",
    "inline_calls",
    "load_frozen_graph",
    "load_saved_model",
    "prune",
    "read_saved_model_proto",
]
