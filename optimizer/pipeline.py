"""The default pass order: the only place it lives.

Why this order:

1. ``prepare`` (once): ``strip_debug`` first so asserts do not pin dead checks alive, then
   ``prune`` so later passes do not waste time on nodes no output needs.
2. ``simplify`` (to a fixpoint): ``remove_identity`` exposes producer/consumer pairs (frozen
   SavedModels put an Identity after every ``ReadVariableOp``), ``bypass_switch_identity`` and
   ``fold_enter_const`` do the same inside TF1 while frames (``remove_identity`` leaves frame
   identities alone): the copy after ``Switch:1`` goes and a loop-invariant
   ``Identity(Enter(Const))`` becomes a frame-local Const the fusions can read;
   ``fold_constants`` turns weight chains (``Neg(alpha)``, ``Rsqrt(var + eps)``) into Consts,
   ``simplify_arithmetic`` removes ``x*1``/``x+0`` that folding reveals, ``merge_transposes``
   composes/cancels consecutive transposes and ``sink_transposes`` moves the transposes an NCHW
   source leaves around every convolution below the layout-agnostic ops, where they cancel
   (before fusion, so the convolution, its bias and activation become neighbours); ``cse``
   merges what became equal, ``prune`` drops the rest.  Each can enable the others, hence the
   fixpoint.
3. ``lower`` (once): rewrite ops TF.js lacks into ops it has (``Erfc``, ``Softsign``,
   ``BatchMatMulV3``, ``StringSplitV2``, aliases, grouped ``Conv2D``, segment reductions,
   ``Xlogy``/``Xdivy``/``Xlog1py``, ``TensorScatterAdd``/``Sub``, fake quantization, TF's truncating ``Mod``,
   ``SpaceToDepth``).  After simplify so constant
   cases are already folded, before fusion so a lowered op can take part in patterns (a grouped
   conv lowered to ``DepthwiseConv2dNative`` then fuses with its bias and activation).
4. ``fuse`` (once, in this order): ``fold_batch_norm`` must see bare contractions (before they are
   fused) and leaves ``contraction + BiasAdd``; ``normalize_bias_add`` turns ``Add(contraction,
   bias)`` into ``BiasAdd`` so the fusions see one form; ``fuse_conv``/``fuse_matmul``/
   ``fuse_depthwise`` then build the fused ops; ``fuse_prelu`` last, because it both builds
   ``Prelu`` and folds it into already fused contractions (TF.js ``fused_ops [BiasAdd, Prelu]``).
   ``batch_norm_to_mul_add`` right after ``fold_batch_norm`` turns a batch norm no contraction
   absorbed into ``Mul`` + ``Add`` with folded constants (two cheap kernels, as the official
   converter's Grappler output has).
5. ``cleanup`` (once): ``function_identities`` gives While/If bodies the Identity, control-edge,
   dead-node and debug-op clean-up the main graph got, and drops their NoOps (TF.js refuses a body
   with an input-less NoOp); the other passes only rewrite the main graph.  ``cse``
   and ``prune`` remove the weights and nodes fusion orphaned.
"""

from __future__ import annotations

from tfjs_lite.optimizer.manager import PassGroup
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.passes.batch_norm_to_mul_add import BatchNormToMulAdd
from tfjs_lite.optimizer.passes.bypass_switch_identity import BypassSwitchIdentity
from tfjs_lite.optimizer.passes.cse import CommonSubexpressionElimination
from tfjs_lite.optimizer.passes.fold_batch_norm import FoldBatchNorm
from tfjs_lite.optimizer.passes.fold_constants import FoldConstants
from tfjs_lite.optimizer.passes.fold_enter_const import FoldEnterConst
from tfjs_lite.optimizer.passes.function_identities import FunctionIdentities
from tfjs_lite.optimizer.passes.fuse_conv import FuseConv
from tfjs_lite.optimizer.passes.fuse_depthwise import FuseDepthwise
from tfjs_lite.optimizer.passes.fuse_matmul import FuseMatMul
from tfjs_lite.optimizer.passes.fuse_prelu import FusePrelu
from tfjs_lite.optimizer.passes.lower_aliases import LowerAliases
from tfjs_lite.optimizer.passes.lower_batch_matmul_v3 import LowerBatchMatMulV3
from tfjs_lite.optimizer.passes.lower_erfc import LowerErfc
from tfjs_lite.optimizer.passes.lower_fake_quant import LowerFakeQuant
from tfjs_lite.optimizer.passes.lower_grouped_conv import LowerGroupedConv
from tfjs_lite.optimizer.passes.lower_segment_ops import LowerSegmentOps
from tfjs_lite.optimizer.passes.lower_softsign import LowerSoftsign
from tfjs_lite.optimizer.passes.lower_space_to_depth import LowerSpaceToDepth
from tfjs_lite.optimizer.passes.lower_string_split import LowerStringSplit
from tfjs_lite.optimizer.passes.lower_tensor_scatter import LowerTensorScatter
from tfjs_lite.optimizer.passes.lower_truncate_mod import LowerTruncateMod
from tfjs_lite.optimizer.passes.lower_xlogy import LowerXlogy
from tfjs_lite.optimizer.passes.merge_transposes import MergeTransposes
from tfjs_lite.optimizer.passes.normalize_bias_add import NormalizeBiasAdd
from tfjs_lite.optimizer.passes.prune import Prune
from tfjs_lite.optimizer.passes.remove_identity import RemoveIdentity
from tfjs_lite.optimizer.passes.simplify_arithmetic import SimplifyArithmetic
from tfjs_lite.optimizer.passes.sink_transposes import SinkTransposes
from tfjs_lite.optimizer.passes.strip_debug import StripDebug

__all__ = ["PASS_NAMES", "default_groups"]

def default_groups(*, skip: frozenset[str] = frozenset(), strip_debug_ops: bool = True
                   ) -> list[PassGroup]:
    """The default pipeline minus the passes named in ``skip``.

    Args:
        skip: Pass names to leave out (already validated against :data:`PASS_NAMES`).
        strip_debug_ops: Run ``strip_debug``.  Defaults to True (the official default).

    Returns:
        The pass groups, in order.
    """
    if not strip_debug_ops:
        skip = skip | {"strip_debug"}

    def keep(*passes: Pass) -> tuple[Pass, ...]:
        return tuple(p for p in passes if p.name not in skip)

    groups = [
        PassGroup("prepare", keep(StripDebug(), Prune())),
        PassGroup("simplify", keep(RemoveIdentity(), BypassSwitchIdentity(), FoldEnterConst(),
                                   FoldConstants(), SimplifyArithmetic(), MergeTransposes(),
                                   SinkTransposes(), CommonSubexpressionElimination(), Prune()),
                  fixpoint=True, max_iterations=8),
        PassGroup("lower", keep(LowerErfc(), LowerSoftsign(), LowerBatchMatMulV3(),
                                LowerAliases(), LowerStringSplit(), LowerGroupedConv(),
                                LowerSegmentOps(), LowerXlogy(), LowerTensorScatter(),
                                LowerFakeQuant(), LowerTruncateMod(), LowerSpaceToDepth())),
        PassGroup("fuse", keep(FoldBatchNorm(), BatchNormToMulAdd(), NormalizeBiasAdd(), FuseConv(),
                               FuseMatMul(), FuseDepthwise(), FusePrelu())),
        PassGroup("cleanup", keep(FunctionIdentities(strip_debug=strip_debug_ops),
                                  CommonSubexpressionElimination(), Prune())),
    ]
    return [g for g in groups if g.passes]


# Every pass name the pipeline knows, in first-use order (for --skip_pass validation and help).
PASS_NAMES: tuple[str, ...] = tuple(dict.fromkeys(p.name for g in default_groups() for p in g.passes))
