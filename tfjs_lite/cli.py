"""Command line: ``tfjs-lite convert`` takes ``tensorflowjs_converter`` 4.22's flags, so switching is one word.

``tfjs-lite INPUT OUTPUT [flags]`` (no sub-command) converts too. Exit status: 0 success, 2 bad
input/options/output path, 1 internal fault. Errors are one line; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import logging
import os
import re
import sys
import threading
from typing import Any, List, Optional, Sequence, Tuple

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


def _complete_bool_flags(argv: Sequence[str]) -> Tuple[List[str], List[Tuple[str, str]]]:
    """``argv`` with "true" after each bare value-bool flag, and the (flag, next token) pairs
    where that next token was neither a truth value nor an option (a path, or a typo like "maybe")."""
    completed: List[str] = []
    doubtful: List[Tuple[str, str]] = []
    for index, token in enumerate(argv):
        completed.append(token)
        if token in _VALUE_BOOL_FLAGS:
            following = argv[index + 1] if index + 1 < len(argv) else None
            if following is None or following.strip().lower() not in _TRUE | _FALSE:
                completed.append("true")
                if following is not None and not following.startswith("-"):
                    doubtful.append((token, following))
    return completed, doubtful


def _version_text() -> str:
    from tfjs_lite import __version__

    return f"tfjs-lite {__version__} (writes TensorFlow.js 4.x models; compatible with tensorflowjs_converter 4.22 flags)"


_CONVERT_EXAMPLES = """\
examples:
  tfjs-lite convert model.h5 web_model/
  tfjs-lite convert saved_model/ web_model/ --quantize_uint8
  tfjs-lite convert frozen.pb web_model/ --output_node_names=logits
  tfjs-lite convert web_model/model.json model.keras --output_format=keras_keras
"""


def _convert_epilog() -> str:
    from tfjs_lite.conversion import PIPELINES

    by_input: dict = {}
    for source, target in sorted(PIPELINES):
        by_input.setdefault(source, []).append(target)
    pairs = "\n".join(f"  {source:<20} -> {', '.join(targets)}" for source, targets in by_input.items())
    return f"{_CONVERT_EXAMPLES}\nsupported conversions (--input_format -> --output_format):\n{pairs}\n"


def _output_formats() -> List[str]:
    from tfjs_lite.conversion import PIPELINES

    return sorted({target for _, target in PIPELINES})


def _convert_parser() -> argparse.ArgumentParser:
    from tfjs_lite.options import INPUT_FORMATS
    from tfjs_lite.tools.args import Parser, add_source_flags

    # argparse's own usage errors also become one line and exit status 2.
    p = Parser(
        "convert",
        description="Convert a Keras or TensorFlow model to TensorFlow.js (tensorflowjs_converter flags; "
        "--flag_name and --flag-name both work).",
        epilog=_convert_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input_path", nargs="?", help="model file or folder")
    p.add_argument("output_path", nargs="?", help="output folder (a file for keras/keras_keras output)")
    p.add_argument("--output_format", choices=_output_formats(), help="inferred from the input format when omitted")
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
    _bool_flag(p, "--strip_debug_ops", True,
               "remove Assert/PrintV2/CheckNumerics/EnsureShape/Print (default true)")
    _bool_flag(p, "--use_structured_outputs_names", False, "name outputs by the structured output keys")
    p.add_argument("--weight_shard_size_bytes", type=int, default=None, help="shard size (default 4194304)")
    _bool_flag(p, "--control_flow_v2", True, "keep functional control flow (default true; TF.js runs it)")
    _bool_flag(p, "--experiments", False, "accepted for compatibility; has no effect")
    p.add_argument("--metadata", help="key:path.json[,key2:path2.json] stored as userDefinedMetadata")
    p.add_argument("--force", action="store_true", help="write a layers model even if TF.js cannot load some layers")
    p.add_argument("--nhwc_inputs", action="store_true",
                   help="graph models from NCHW sources (ONNX): take 4-D inputs as NHWC, without transposes")
    p.add_argument("--nhwc_outputs", action="store_true",
                   help="graph models from NCHW sources (ONNX): return 4-D outputs as NHWC, without transposes")
    p.add_argument("--skip_pass", action="append", default=[], metavar="NAME",
                   help=f"disable an optimizer pass (repeatable): {', '.join(_pass_names())}")
    p.add_argument("--verify", action="store_true", help="after converting, compare outputs with the source")
    p.add_argument("--debug", action="store_true", help="show tracebacks and optimizer details")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing on success (warnings still show)")
    return p


def _pass_names() -> Tuple[str, ...]:
    from tfjs_lite.optimizer import PASS_NAMES

    return PASS_NAMES


def _parse_convert_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = _convert_parser()
    completed, doubtful = _complete_bool_flags(argv)
    args, extras = parser.parse_known_intermixed_args(completed)
    if extras:
        # "--strip_debug_ops maybe in out": "maybe" was taken for the input path, so "out" is extra.
        for flag, value in doubtful:
            raise _usage(f"{flag} takes BOOL (true or false), got {value!r}")
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


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
    args = _parse_convert_args(argv)
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
        nhwc_inputs=args.nhwc_inputs,
        nhwc_outputs=args.nhwc_outputs,
    )
    # The CLI owns its process, so it may tune it (a library call must not touch global state):
    # readers build many long-lived objects and little cyclic garbage, and collecting young
    # objects every 700 allocations costs ~10 % of a SavedModel conversion.
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    progress = _Progress(f"converting {args.input_path} ...", enabled=_progress_wanted(args.quiet))
    with progress:
        result = convert_with_options(args.input_path, args.output_path, options)
    for warning in result.warnings:
        _emit(f"tfjs-lite: warning: {warning}")
    if not args.quiet:
        _emit(_summary(result))
    if args.verify:
        from tfjs_lite.tools.verify_model import verify_conversion

        return verify_conversion(result, options)
    return 0


def _summary(result: Any) -> str:
    """The one line a successful conversion prints."""
    count = len(result.files)
    return (f"tfjs-lite: {result.input_format} -> {result.output_format}: {count} file{'s' * (count != 1)}, "
            f"{result.total_bytes:,} bytes in {result.output_path} ({result.seconds:.1f} s)")


def _progress_wanted(quiet: bool) -> bool:
    """A person at a terminal sees that a slow conversion is running; scripts and CI logs (stderr
    not a TTY) get only the error or the summary line, so "one line on failure" holds however long
    the conversion takes."""
    isatty = getattr(sys.stderr, "isatty", None)
    return not quiet and bool(isatty and isatty())


class _Progress:
    """Shows one progress line on stderr, only for conversions that take over a second."""

    def __init__(self, message: str, delay: float = 1.0, *, enabled: bool = True) -> None:
        self.message = message
        self.enabled = enabled
        self.shown = False
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True

    def _show(self) -> None:
        self.shown = True
        _emit(f"tfjs-lite: {self.message}")
        sys.stderr.flush()

    def __enter__(self) -> _Progress:
        if self.enabled:
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
        from tfjs_lite.tools.verify_model import main as verify_main

        return verify_main(argv)
    # ---- bench: run a converted model in the real TF.js runtime (tfjs_lite/tools/bench*.py) ----
    if command == "bench":
        from tfjs_lite.tools.bench import main as bench_main

        return bench_main(argv)
    # ---- end bench ----
    from tfjs_lite.tools.inspect_model import main as inspect_main

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
    unknown = _unknown_command(args[0])
    if unknown:
        _emit(f"tfjs-lite: error: {unknown}")
        return 2
    command, rest = (args[0], args[1:]) if args[0] in _SUBCOMMANDS else ("convert", args)
    if debug:
        # The optimizer logs its per-pass op-count changes at DEBUG level.
        logging.basicConfig(level=logging.DEBUG, format="tfjs-lite: %(name)s: %(message)s")
    previous_handlers = _install_signal_handlers()
    try:
        return _run_subcommand(command, rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    except KeyboardInterrupt:
        sys.stderr.write("tfjs-lite: interrupted; nothing was written\n")
        return 130
    except _Terminated as e:
        sys.stderr.write("tfjs-lite: terminated; nothing was written\n")
        return 128 + e.signum
    except Exception as e:  # the one place every failure becomes one line and an exit status
        if debug:
            raise
        return _report_failure(e)
    finally:
        _restore_signal_handlers(previous_handlers)


def _unknown_command(word: str) -> Optional[str]:
    """The error for a first argument that is neither a command nor an input path, else None.

    Without a command the arguments are ``convert``'s, so only a bare word that names no file or
    folder (``frobnicate``, ``inpsect``) is taken for a mistyped command.
    """
    if word in _SUBCOMMANDS or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", word) or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, _SUBCOMMANDS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"unknown command {word!r} (no file or folder has that name either); {hint}"
            f"commands: {', '.join(_SUBCOMMANDS)} (see tfjs-lite --help)")


def _report_failure(error: Exception) -> int:
    from tfjs_lite.errors import ConversionError

    if isinstance(error, ConversionError):
        status, line = error.exit_code, f"tfjs-lite: error: {error}"
    elif isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        status, line = 2, f"tfjs-lite: error: {where}{error.strerror}"
    elif isinstance(error, MemoryError):
        status, line = 2, "tfjs-lite: error: out of memory while converting; the input may be malformed"
    else:
        status, line = 1, (
            f"tfjs-lite: internal error: {type(error).__name__}: {error} "
            "(this is a bug in tfjs-lite; rerun with --debug for a traceback and report it)"
        )
    _emit(line)
    return status


def _emit(line: str) -> None:
    """The one place the CLI prints a status line (errors, warnings, progress, summary): names and
    paths from the model may hold newlines, escape sequences or lone surrogates; ``one_line``
    escapes them so every message stays one safe line."""
    from tfjs_lite.errors import one_line

    sys.stderr.write(one_line(line) + "\n")


class _Terminated(BaseException):
    """Raised in the main thread on SIGTERM/SIGHUP, so staging folders are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _install_signal_handlers() -> dict:
    """SIGTERM/SIGHUP unwind like Ctrl-C (the CLI's own process only; the library installs nothing)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return {}

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated(signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[signum] = signal.signal(signum, terminate)
        except (ValueError, OSError):
            pass
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    import signal

    for signum, handler in previous.items():
        signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
