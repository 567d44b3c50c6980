"""Command-line pieces shared by ``tfjs-lite convert``, ``verify`` and ``inspect``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Optional

__all__ = ["SOURCE_FLAGS", "Parser", "add_source_flags", "source_options"]

# The flags that say how to read a source model, as ``tensorflowjs_converter`` spells them.
SOURCE_FLAGS = ("input_format", "signature_name", "saved_model_tags", "output_node_names")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def __init__(self, command: str, **kwargs: Any) -> None:
        super().__init__(prog=f"tfjs-lite {command}", **kwargs)
        self.command = command

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"tfjs-lite: error: {message} (see tfjs-lite {self.command} --help)\n")
        raise SystemExit(2)

    def parse_known_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                         namespace: Optional[argparse.Namespace] = None) -> tuple[argparse.Namespace, list[str]]:
        """As argparse's, with ``--output-format`` accepted for ``--output_format`` (every flag)."""
        given = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self.with_underscores(given), namespace)

    def with_underscores(self, argv: Sequence[str]) -> list[str]:
        """``argv`` with ``--a-b[=v]`` spelled ``--a_b[=v]`` wherever ``--a_b`` is one of our flags."""
        known = set(self._option_string_actions)
        fixed = []
        for token in argv:
            flag, eq, value = token.partition("=")
            if flag.startswith("--") and flag not in known and "--" + flag[2:].replace("-", "_") in known:
                token = "--" + flag[2:].replace("-", "_") + eq + value
            fixed.append(token)
        return fixed


def add_source_flags(
    parser: argparse.ArgumentParser,
    *,
    formats: Sequence[str],
    format_help: str,
    output_node_names_help: str,
) -> None:
    """Add ``--input_format``, ``--signature_name``, ``--saved_model_tags``, ``--output_node_names``."""
    parser.add_argument("--input_format", choices=formats, help=format_help)
    parser.add_argument("--signature_name", help="SavedModel signature (default serving_default; tf_hub: default)")
    parser.add_argument("--saved_model_tags", default="serve", help="comma-separated MetaGraph tags (default serve)")
    parser.add_argument("--output_node_names", help=output_node_names_help)


def source_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed :data:`SOURCE_FLAGS` as keyword arguments."""
    return {name: getattr(args, name) for name in SOURCE_FLAGS}
