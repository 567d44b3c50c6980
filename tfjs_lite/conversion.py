"""The conversion entry point: resolve formats, stage the output, run one pipeline, commit.

Pipelines are looked up in :data:`PIPELINES` by (input format, output format) and imported only
when used, so start-up stays fast and a missing optional piece never breaks other conversions.
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Tuple, Union

from tfjs_lite import formats
from tfjs_lite.detect import resolve_formats
from tfjs_lite.errors import ConversionError, ModelFormatError, UnsupportedFormatError, UsageError
from tfjs_lite.options import ConvertOptions, Quantization, metadata_from_paths
from tfjs_lite.report import ConversionResult, Report
from tfjs_lite.safe_io import check_input_path
from tfjs_lite.staging import StagedDirectory, StagedFile, check_output_path

__all__ = ["PIPELINES", "ConversionResult", "convert", "convert_with_options"]

PathLike = Union[str, "os.PathLike[str]"]
Pipeline = Callable[[Path, Path, ConvertOptions, Report], None]

# (input format, output format) → "module:function", derived from the format table. A pipeline
# writes into a staging path (a folder, or a file for single-file outputs) and never touches the real
# output path.
PIPELINES: Dict[Tuple[str, str], str] = formats.pipeline_pairs()


def _load_pipeline(input_format: str, output_format: str) -> Pipeline:
    target = PIPELINES.get((input_format, output_format))
    if target is None:
        raise UnsupportedFormatError(
            f"converting {input_format} to {output_format} is not supported yet; "
            f"supported pairs: {', '.join(f'{i}→{o}' for i, o in sorted(PIPELINES))}"
        )
    pipeline: Pipeline = formats.load_target(target)
    return pipeline


def convert_with_options(input_path: PathLike, output_path: PathLike, options: ConvertOptions) -> ConversionResult:
    """Convert ``input_path`` into ``output_path`` as ``options`` say; see :func:`convert`."""
    started = time.perf_counter()
    source = Path(input_path)
    target = Path(output_path)
    check_input_path(source)  # a FIFO or device must not be opened, even to sniff its format
    input_format, output_format = resolve_formats(source, options.input_format, options.output_format)
    _check_flag_scope(options, source, input_format, output_format)
    single_file = output_format in formats.single_file_outputs()
    check_output_path(target, input_path=source, want_directory=not single_file)
    pipeline = _load_pipeline(input_format, output_format)
    report = Report()
    staged = StagedFile(target) if single_file else StagedDirectory(target)
    from tfjs_lite.dtypes import splat_budget

    try:
        with staged, splat_budget():
            assert staged.path is not None
            pipeline(source, staged.path, options, report)
    except ConversionError as e:
        _name_the_input(e, source)
        raise
    except Exception as e:
        reason = _decode_failure(e)
        if reason is None:
            raise
        raise ModelFormatError(f"the input is damaged or malformed ({reason})", path=source) from e
    files = [target] if single_file else list(getattr(staged, "committed_files", []))
    return ConversionResult(
        input_path=source,
        output_path=target,
        input_format=input_format,
        output_format=output_format,
        files=files,
        warnings=list(report.warnings),
        seconds=time.perf_counter() - started,
    )


def _decode_failure(error: Exception) -> str | None:
    """A one-line reason if ``error`` is a decoder's complaint about the input's bytes that escaped a
    reader (a safety net: readers should raise ModelFormatError themselves), else None."""
    kind = type(error)
    decode = isinstance(error, (zipfile.BadZipFile, zlib.error)) or (
        kind.__name__ == "DecodeError" and kind.__module__.startswith("google.protobuf")
    )
    innermost = _innermost_file(error)
    if isinstance(error, RecursionError):  # a deeply nested JSON document
        decode = f"{os.sep}json{os.sep}" in innermost
    elif isinstance(error, _H5PY_ERRORS) and not (isinstance(error, OSError) and error.errno is not None):
        # HDF5 reading corrupt bytes (a bad heap or B-tree signature) raises these from inside h5py
        # wherever the reader touched the file; an OSError with an errno is the file system's
        decode = innermost.startswith(f"h5py{os.sep}") or f"{os.sep}h5py{os.sep}" in innermost
    if not decode:
        return None
    detail = " ".join(str(error).split())[:200]
    return f"{kind.__name__}: {detail}" if detail else kind.__name__


_H5PY_ERRORS = (RuntimeError, OSError, KeyError, ValueError, TypeError)


def _innermost_file(error: Exception) -> str:
    """The source file of the frame that raised ``error``."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename if tb is not None else ""


def _name_the_input(error: ConversionError, source: Path) -> None:
    """Errors raised deep in a reader may not know the file; the one-line message must name it."""
    if error.path is None and error.args and str(source) not in str(error.args[0]):
        error.args = (f"{source}: {error.args[0]}",) + tuple(error.args[1:])
        error.path = source


def _suggested_outputs(frozen_graph: Path) -> str:
    """A hint naming the nodes nothing consumes (what ``tfjs-lite inspect`` reports), if readable."""
    from tfjs_lite.readers.graph_def import frozen_graph_outputs

    try:
        names = frozen_graph_outputs(frozen_graph)
    except ConversionError:
        return ""
    if not names:
        return ""
    if len(names) > 5:
        return (f"; {len(names)} nodes have no consumer ({', '.join(names[:5])}, ...): "
                f"run tfjs-lite inspect {frozen_graph} to pick the outputs")
    return f"; the nodes nothing consumes are the likely outputs: --output_node_names={','.join(names)}"


def _check_flag_scope(options: ConvertOptions, source: Path, input_format: str, output_format: str) -> None:
    if options.signature_name is not None and not formats.input_format(input_format).takes_signature:
        takers = [f.name for f in formats.INPUT_TABLE if f.takes_signature]
        raise UsageError(f"--signature_name applies only to {', '.join(takers)} inputs")
    if input_format == "tf_frozen_model" and not options.output_node_names:
        raise UsageError('the --output_node_names flag is required for "tf_frozen_model"'
                         + _suggested_outputs(source))
    if options.split_weights_by_layer and output_format != "tfjs_layers_model":
        raise UsageError("--split_weights_by_layer applies only to tfjs_layers_model output")
    if (options.nhwc_inputs or options.nhwc_outputs) and output_format != "tfjs_graph_model":
        raise UsageError("--nhwc_inputs/--nhwc_outputs apply only to tfjs_graph_model output")


def convert(
    input_path: PathLike,
    output_path: PathLike,
    *,
    input_format: str | None = None,
    output_format: str | None = None,
    quantize_float16: Any = None,
    quantize_uint8: Any = None,
    quantize_uint16: Any = None,
    weight_shard_size_bytes: int | None = None,
    split_weights_by_layer: bool = False,
    metadata: Mapping[str, PathLike] | None = None,
    signature_name: str | None = None,
    saved_model_tags: str = "serve",
    output_node_names: str | None = None,
    strip_debug_ops: bool = True,
    control_flow_v2: bool = True,
    skip_op_check: bool = False,
    use_structured_outputs_names: bool = False,
    force: bool = False,
    skip_passes: tuple[str, ...] = (),
    nhwc_inputs: bool = False,
    nhwc_outputs: bool = False,
) -> ConversionResult:
    """Convert a model, as ``tfjs-lite convert`` does, and return what was written.

    Args:
        input_path: the model: an .h5/.keras file, a SavedModel or TF-Hub folder, a frozen .pb,
            or a TF.js layers model folder/model.json.
        output_path: the folder to write (a file for ``keras``/``keras_keras`` outputs).
        input_format: one of ``INPUT_FORMATS``; detected from the path when omitted.
        output_format: one of ``OUTPUT_FORMATS``; inferred from the input format when omitted.
        quantize_float16, quantize_uint8, quantize_uint16: True for every weight, or glob
            patterns (a comma-separated string or a list) selecting weights by name.
        weight_shard_size_bytes: shard size; 4 MiB by default.
        split_weights_by_layer: one weight group per layer (layers models).
        metadata: ``{key: path to a JSON file}``, stored under ``userDefinedMetadata``.
        force: write a layers model even when some layers would not load in TF.js.
        nhwc_inputs, nhwc_outputs: graph models from NCHW sources (ONNX): declare the 4-D inputs /
            outputs NHWC, so no transpose is left at the boundary (docs/layout.md).
        Other arguments: as the ``tensorflowjs_converter`` flags of the same names.

    Returns:
        A :class:`ConversionResult` listing the files written, their size and any warnings.

    Raises:
        ConversionError: for bad input, unsupported models or options, or an unusable output path.
    """
    options = ConvertOptions(
        input_format=input_format,
        output_format=output_format,
        quantization=Quantization(float16=quantize_float16, uint8=quantize_uint8, uint16=quantize_uint16),
        weight_shard_size_bytes=ConvertOptions.weight_shard_size_bytes
        if weight_shard_size_bytes is None
        else weight_shard_size_bytes,
        split_weights_by_layer=split_weights_by_layer,
        metadata=metadata_from_paths(metadata) if metadata else {},
        signature_name=signature_name,
        saved_model_tags=saved_model_tags,
        output_node_names=output_node_names,
        strip_debug_ops=strip_debug_ops,
        control_flow_v2=control_flow_v2,
        skip_op_check=skip_op_check,
        use_structured_outputs_names=use_structured_outputs_names,
        force=force,
        skip_passes=tuple(skip_passes),
        nhwc_inputs=nhwc_inputs,
        nhwc_outputs=nhwc_outputs,
    )
    return convert_with_options(input_path, output_path, options)
