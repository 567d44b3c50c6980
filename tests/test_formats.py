"""The format table: every row's pipelines and loaders exist, and detection agrees with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfjs_lite import formats
from tfjs_lite.detect import detect_input_format, infer_output_format
from tfjs_lite.errors import ModelFormatError, UsageError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.mark.parametrize("pair,target", sorted(formats.pipeline_pairs().items()))
def test_every_pipeline_target_imports(pair: tuple[str, str], target: str) -> None:
    assert callable(formats.load_target(target)), pair
    assert pair[1] in formats.OUTPUT_FORMATS


@pytest.mark.parametrize("row", formats.INPUT_TABLE, ids=lambda r: r.name)
def test_rows_are_consistent(row: formats.InputFormat) -> None:
    assert row.kind in ("layers", "graph")
    assert row.default_output in row.pipelines, "the default output must be a supported pair"
    assert infer_output_format(row.name) == row.default_output
    if row.graph_loader is not None:
        assert callable(formats.load_target(row.graph_loader))
    if row.kind == "graph":
        assert row.graph_loader is not None, "graph sources must be readable by verify/inspect"


def test_every_output_format_is_reachable() -> None:
    reachable = {out for _, out in formats.pipeline_pairs()}
    assert reachable == set(formats.OUTPUT_FORMATS)


@pytest.mark.parametrize(
    "path,expected",
    [
        ("keras/mlp/model.h5", "keras"),
        ("keras/k3_sequential_keras/model.keras", "keras_keras"),
        ("graph/cnn/saved_model", "tf_saved_model"),
        ("graph/hub_tf1/module", "tf_hub"),
        ("graph/frozen/model.pb", "tf_frozen_model"),
    ],
)
def test_detection_follows_the_table(path: str, expected: str) -> None:
    assert detect_input_format(FIXTURES / path) == expected


def test_magic_beats_suffix(tmp_path: Path) -> None:
    h5_named_pb = tmp_path / "model.pb"
    h5_named_pb.write_bytes((FIXTURES / "keras/mlp/model.h5").read_bytes())
    assert detect_input_format(h5_named_pb) == "keras"


def test_suffix_without_magic_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "model.h5"
    fake.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ModelFormatError, match="despite its name"):
        detect_input_format(fake)


def test_unknown_file_asks_for_the_format(tmp_path: Path) -> None:
    unknown = tmp_path / "model.bin"
    unknown.write_bytes(b"\0" * 32)
    with pytest.raises(UsageError, match="--input_format"):
        detect_input_format(unknown)
