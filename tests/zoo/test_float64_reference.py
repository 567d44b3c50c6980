"""The arbiter of zoo mismatches must be able to say no, and must really compute in float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from float64_reference import float64_outputs, reference_graph, verdict
from tfjs_node import load_tensors

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "zoo" / "MobileNetAlpha025"


def _case():
    return CASE / "model.h5", load_tensors(CASE / "inputs.json"), load_tensors(CASE / "expected.json")


def test_reference_runs_in_float64_and_is_close_to_tf():
    source, feeds, want = _case()
    exact = float64_outputs(reference_graph(source), feeds, sorted(want))
    for name, value in want.items():
        assert exact[name].dtype == np.float64
        assert np.abs(exact[name] - value).max() < 1e-3  # TF's float32 rounding, not a different model


def test_a_wrong_output_is_a_mismatch_and_tf_itself_is_ok():
    source, feeds, want = _case()
    wrong = {k: v + 0.01 for k, v in want.items()}
    assert verdict(source, feeds, want, wrong, 1e-4)["status"] == "mismatch"
    assert verdict(source, feeds, want, want, 1e-4) == {"status": "ok", "error": 0.0}


def test_the_exact_result_is_accepted_even_when_tf_is_farther_than_the_tolerance():
    source, feeds, want = _case()
    exact = float64_outputs(reference_graph(source), feeds, sorted(want))
    result = verdict(source, feeds, want, exact, 1e-9)
    assert result["status"] == "within_tf_float32_error" and result["tfjs_vs_float64"] == 0.0


def test_float32_reference_is_a_second_float32_run_near_the_exact_result():
    from float64_reference import float32_outputs

    source, feeds, want = _case()
    exact = float64_outputs(reference_graph(source), feeds, sorted(want))
    single = float32_outputs(reference_graph(source), feeds, sorted(want))
    for name in want:
        assert single[name].dtype == np.float32
        distance = np.abs(single[name] - exact[name]).max()
        assert 0 < distance < 1e-3  # rounded like float32, but the same model


def test_tf_far_from_a_reference_the_float32_run_agrees_with_is_not_noise():
    # What a reader/lowering bug shared by the conversion and the reference looks like: TF.js
    # reproduces the reference exactly, TF is far from it, the reference's own float32 run is not.
    source, feeds, _ = _case()
    names = sorted(load_tensors(CASE / "expected.json"))
    exact = float64_outputs(reference_graph(source), feeds, names)
    tf_far = {k: v + 0.005 for k, v in exact.items()}  # below the ill-conditioned line
    result = verdict(source, feeds, tf_far, exact, 1e-4)
    assert result["status"] == "mismatch" and result["tfjs_vs_float64"] == 0.0


def test_judge_rules():
    from float64_reference import judge

    assert judge(1e-4, 1.5e-4, 5e-5, 1e-4) == "within_tf_float32_error"
    assert judge(1e-4, 3e-4, 5e-5, 1e-4) == "mismatch"  # TF.js more than twice the float32 noise
    assert judge(1e-4, 1.9e-4, None, 1e-4) == "within_tf_float32_error"  # older results: TF only
    assert judge(5e-3, 1e-4, 1e-4, 1e-4) == "mismatch"  # TF far from a self-consistent reference
    assert judge(0.3, 0.1, 0.05, 1e-4) == "ill_conditioned"  # float32 settles nothing here
