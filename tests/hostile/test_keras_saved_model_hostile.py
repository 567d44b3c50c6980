"""tf.keras 2 SavedModels (``keras_metadata.pb`` + checkpoint) read as ``keras_saved_model``."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from corpus import FIXTURES, Case, byte_mutations, pristine_check, run_and_judge, truncation_sizes
from test_fuzz_parsers import Findings, mutated

SAVED = FIXTURES / "keras_saved_model" / "mlp" / "saved_model"
FLAGS = ["--input_format", "keras_saved_model"]
META = "keras_metadata.pb"


def _copy(dst: Path) -> Path:
    shutil.copytree(SAVED, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def _metadata() -> Any:
    from tfjs_lite._proto.saved_metadata_pb2 import SavedMetadata

    return SavedMetadata.FromString((SAVED / META).read_bytes())


def test_keras_metadata_broken_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    err = pristine_check(SAVED, out / "pristine", tmp_path, FLAGS)
    data = (SAVED / META).read_bytes()
    cases = []
    for size in truncation_sizes(len(data))[::2]:
        folder = _copy(tmp_path / f"t{size}")
        (folder / META).write_bytes(data[:size])
        cases.append(Case(f"t{size}", "keras SavedModel: keras_metadata.pb empty/truncated", folder, out / f"t{size}",
                          FLAGS))
    rng = random.Random("keras-metadata")
    for i in range(15):
        folder = _copy(tmp_path / f"m{i}")
        (folder / META).write_bytes(byte_mutations(data, rng))
        cases.append(Case(f"m{i}", "keras SavedModel: keras_metadata.pb byte mutations", folder, out / f"m{i}",
                          FLAGS, may_convert=True))
    folder = _copy(tmp_path / "nometa")
    (folder / META).unlink()
    cases.append(Case("no keras_metadata.pb", "keras SavedModel: keras_metadata.pb empty/truncated", folder,
                      out / "nometa", FLAGS))
    proto = _metadata()
    for node in proto.nodes:
        node.metadata = "{" * 100000 if node.node_path == "root" else node.metadata
    folder = _copy(tmp_path / "deep")
    (folder / META).write_bytes(proto.SerializeToString())
    cases.append(Case("root metadata 100000 deep", "keras SavedModel: keras_metadata.pb byte mutations", folder,
                      out / "deep", FLAGS))
    failures = run_and_judge(cases, tmp_path)
    problems = failures + ([f"pristine keras SavedModel does not convert: {err}"] if err else [])
    assert not problems, "\n".join(problems)


def test_keras_metadata_json_fuzzed(tmp_path: Path) -> None:
    from tfjs_lite import convert

    proto = _metadata()
    root = next(n for n in proto.nodes if n.node_path == "root")
    document = json.loads(root.metadata)
    folder = _copy(tmp_path / "model")
    findings = Findings("fuzz: keras_metadata.pb root JSON (hypothesis, JSON subtrees replaced)")

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(mutated(document, 3))
    def check(new_document: Any) -> None:
        root.metadata = json.dumps(new_document)
        (folder / META).write_bytes(proto.SerializeToString())

        def run() -> None:
            try:
                convert(folder, tmp_path / "out", input_format="keras_saved_model")
            finally:
                shutil.rmtree(tmp_path / "out", ignore_errors=True)

        findings.run(run)

    check()
    findings.check()
