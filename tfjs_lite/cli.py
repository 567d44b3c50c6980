"""Command line: ``tfjs-lite convert`` takes ``tensorflowjs_converter`` 4.22's flags, so switching is one word.

``tfjs-lite INPUT OUTPUT [flags]`` (no sub-command) converts too. Exit status: 0 success, 2 bad
input/options/output path, 1 internal fault. Errors are one line; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import threading
from typing import Any, List, Optional, Sequence

__all__ = ["main"]

_SUBCOMMANDS = ("convert", "verify", "inspect", "bench")
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off", ""}


def _parse_bool(text: str) -> bool:
    # The official CLI uses type=bool, so "--strip_debug_ops False" means True there; here it means False.
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


# Flags that take a true/false value in tensorflowjs_converter (type=bool there). A bare flag, or one
# followed by something that is not a truth value (a path), means true, so both spellings work.
_VALUE_BOOL_FLAGS = ("--strip_debug_ops", "--use_structured_outputs_names", "--control_flow_v2", "--experiments")


def _bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help_text: str) -> None:
    parser.add_argument(name, type=_parse_bool, default=default, metavar="BOOL", help=help_text)


def _complete_bool_flags(argv: Sequence[str]) -> List[str]:
    completed: List[str] = []
    for index, token in enumerate(argv):
        completed.append(token)
        if token in _VALUE_BOOL_FLAGS:
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or following.strip().lower() not in _TRUE | _FALSE:
                completed.append("true")
    return completed


def _version_text() -> str:
    from tfjs_lite import __version__

    return f"tfjs-lite {__version__} (writes TensorFlow.js 4.x models; compatible with tensorflowjs_converter 4.22 flags)"


def _convert_parser() -> argparse.ArgumentParser:
    from tfjs_lite.options import INPUT_FORMATS, OUTPUT_FORMATS
    from tfjs_lite.tools.args import Parser, add_source_flags

    # argparse's own usage errors also become one line and exit status 2.
    p = Parser(
        "convert",
        description="Convert a Keras or TensorFlow model to TensorFlow.js (tensorflowjs_converter flags).",
    )
    p.add_argument("input_path", nargs="?", help="model file or folder")
    p.add_argument("output_path", nargs="?", help="output folder (a file for keras/keras_keras output)")
    p.add_argument("--output_format", choices=OUTPUT_FORMATS, help="inferred from the input format when omitted")
    add_source_flags(
        p,
        formats=INPUT_FORMATS,
        format_help="detected from the input path when omitted",
        output_node_names_help="comma-separated output nodes (tf_frozen_model)",
    )
    for dtype in ("float16", "uint8", "uint16"):
        p.add_argument(
            f"--quantize_{dtype}",
            nargs="?",
            const=True,
            default=None,
            metavar="PATTERNS",
            help=f"quantize weights to {dtype}; optional comma-separated glob patterns on weight names",
        )
    p.add_argument("--quantization_bytes", type=int, choices=(1, 2), help="deprecated: 1 = uint8, 2 = uint16")
    p.add_argument("--split_weights_by_layer", action="store_true", help="one weight group per layer")
    p.add_argument("--version", "-v", dest="show_version", action="store_true", help="print the version and exit")
    p.add_argument("--skip_op_check", action="store_true", help="convert even if TF.js lacks some ops")
    _bool_flag(p, "--strip_debug_ops", True, "remove Assert/CheckNumerics/Print (default true)")
    _bool_flag(p, "--use_structured_outputs_names", False, "name outputs by the structured output keys")
    p.add_argument("--weight_shard_size_bytes", type=int, default=None, help="shard size (default 4194304)")
    _bool_flag(p, "--control_flow_v2", True, "keep functional control flow (default true; TF.js runs it)")
    _bool_flag(p, "--experiments", False, "accepted for compatibility; has no effect")
    p.add_argument("--metadata", help="key:path.json[,key2:path2.json] stored as userDefinedMetadata")
    p.add_argument("--force", action="store_true", help="write a layers model even if TF.js cannot load some layers")
    p.add_argument("--skip_pass", action="append", default=[], metavar="NAME", help="disable an optimizer pass")
    p.add_argument("--verify", action="store_true", help="after converting, compare outputs with the source")
    p.add_argument("--debug", action="store_true", help="show tracebacks and optimizer details")
    return p


def _fix_swallowed_positionals(args: argparse.Namespace) -> None:
    # "--quantize_uint8 model out" makes "model" the pattern list in the official tool; if the
    # positionals are short and a quantize value names an existing path, it was meant as one.
    for dtype in ("float16", "uint8", "uint16"):
        if args.output_path is not None:
            return
        value = getattr(args, f"quantize_{dtype}")
        if isinstance(value, str) and os.path.exists(value):
            setattr(args, f"quantize_{dtype}", True)
            args.output_path = args.input_path
            args.input_path = value


def _run_convert(argv: Sequence[str]) -> int:
    args = _convert_parser().parse_args(_complete_bool_flags(argv))
    if args.show_version:
        print(_version_text())
        return 0
    if args.input_path is None:
        raise _usage("missing input_path argument; for usage, use --help")
    _fix_swallowed_positionals(args)
    if args.output_path is None:
        raise _usage("missing output_path argument; for usage, use --help")
    if args.quantization_bytes is not None:
        if any(getattr(args, f"quantize_{d}") is not None for d in ("float16", "uint8", "uint16")):
            raise _usage("--quantization_bytes cannot be combined with --quantize_* flags")
        setattr(args, "quantize_uint8" if args.quantization_bytes == 1 else "quantize_uint16", True)
    if not args.verify:
        # numpy's OpenBLAS starts a thread per core at import, and they spin for a while: ~0.1 s
        # of CPU for nothing, as a conversion does no large matrix products (--verify runs the
        # model, so it keeps the threads). Only takes effect before numpy is first imported.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from tfjs_lite.conversion import convert_with_options
    from tfjs_lite.options import (
        DEFAULT_SHARD_SIZE_BYTES,
        ConvertOptions,
        Quantization,
        parse_metadata,
    )

    options = ConvertOptions(
        input_format=args.input_format,
        output_format=args.output_format,
        quantization=Quantization(
            float16=args.quantize_float16, uint8=args.quantize_uint8, uint16=args.quantize_uint16
        ),
        weight_shard_size_bytes=DEFAULT_SHARD_SIZE_BYTES
        if args.weight_shard_size_bytes is None
        else args.weight_shard_size_bytes,
        split_weights_by_layer=args.split_weights_by_layer,
        metadata=parse_metadata(args.metadata) if args.metadata else {},
        signature_name=args.signature_name,
        saved_model_tags=args.saved_model_tags,
        output_node_names=args.output_node_names,
        strip_debug_ops=args.strip_debug_ops,
        control_flow_v2=args.control_flow_v2,
        skip_op_check=args.skip_op_check,
        use_structured_outputs_names=args.use_structured_outputs_names,
        force=args.force,
        skip_passes=tuple(args.skip_pass),
        debug=args.debug,
    )
    # The CLI owns its process, so it may tune it (a library call must not touch global state):
    # readers build many long-lived objects and little cyclic garbage, and collecting young
    # objects every 700 allocations costs ~10 % of a SavedModel conversion.
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    progress = _Progress(f"converting {args.input_path} ...")
    with progress:
        result = convert_with_options(args.input_path, args.output_path, options)
    for warning in result.warnings:
        sys.stderr.write(f"tfjs-lite: warning: {warning}\n")
    if progress.shown:
        sys.stderr.write(
            f"tfjs-lite: wrote {len(result.files)} files ({result.total_bytes:,} bytes) "
            f"to {result.output_path} in {result.seconds:.1f} s\n"
        )
    if args.verify:
        from tfjs_lite.verify import verify_conversion

        return verify_conversion(result, options)
    return 0


class _Progress:
    """Shows one progress line on stderr, only for conversions that take over a second."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        self.message = message
        self.shown = False
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def _show(self) -> None:
        self.shown = True
        sys.stderr.write(f"tfjs-lite: {self.message}\n")
        sys.stderr.flush()

    def __enter__(self) -> _Progress:
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()


def _usage(message: str) -> BaseException:
    from tfjs_lite.errors import UsageError

    return UsageError(message)


def _run_subcommand(command: str, argv: List[str]) -> int:
    if command == "convert":
        return _run_convert(argv)
    if command == "verify":
        from tfjs_lite.verify import main as verify_main

        return verify_main(argv)
    # ---- bench: run a converted model in the real TF.js runtime (tfjs_lite/tools/bench*.py) ----
    if command == "bench":
        from tfjs_lite.tools.bench import main as bench_main

        return bench_main(argv)
    # ---- end bench ----
    from tfjs_lite.inspect import main as inspect_main

    return inspect_main(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (also used by ``python -m tfjs_lite``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if args and args[0] in ("--version", "-v", "-V") and len(args) == 1:
        print(_version_text())
        return 0
    if not args or args[0] in ("-h", "--help"):
        print(
            "usage: tfjs-lite convert INPUT OUTPUT [tensorflowjs_converter flags]\n"
            "       tfjs-lite verify SOURCE CONVERTED [--runtime numpy|tfjs]\n"
            "       tfjs-lite bench MODEL [--backend cpu|wasm|webgl|webgpu] [--browser] [--compare OTHER] [--serve]\n"
            "       tfjs-lite inspect PATH\n"
            "       tfjs-lite --version\n"
            "Run 'tfjs-lite convert --help' for the conversion flags."
        )
        return 0 if args else 2
    command, rest = (args[0], args[1:]) if args[0] in _SUBCOMMANDS else ("convert", args)
    if debug:
        # The optimizer logs its per-pass op-count changes at DEBUG level.
        logging.basicConfig(level=logging.DEBUG, format="tfjs-lite: %(name)s: %(message)s")
    try:
        return _run_subcommand(command, rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    except KeyboardInterrupt:
        sys.stderr.write("tfjs-lite: interrupted; nothing was written\n")
        return 130
    except Exception as e:  # the one place every failure becomes one line and an exit status
        if debug:
            raise
        return _report_failure(e)


def _report_failure(error: Exception) -> int:
    from tfjs_lite.errors import ConversionError

    if isinstance(error, ConversionError):
        sys.stderr.write(f"tfjs-lite: error: {error}\n")
        return error.exit_code
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"tfjs-lite: error: {where}{error.strerror}\n")
        return 2
    if isinstance(error, MemoryError):
        sys.stderr.write("tfjs-lite: error: out of memory while converting; the input may be malformed\n")
        return 2
    detail = " ".join(str(error).split())
    sys.stderr.write(
        f"tfjs-lite: internal error: {type(error).__name__}: {detail} "
        "(this is a bug in tfjs-lite; rerun with --debug for a traceback and report it)\n"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
