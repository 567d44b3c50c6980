"""Transposes left in converted torchvision CNNs (docs/layout.md), and their error in real TF.js.

Two steps, two environments (the models are not committed: benchmarks/.models/onnx/, ~600 MB):

    /path/to/torchenv/bin/python benchmarks/layout_transposes.py export   # torch, torchvision, onnxruntime
    python benchmarks/layout_transposes.py measure                         # tfjs-lite + Node (tests/js)

``export`` writes each model with random weights (torch.onnx.export, TorchScript exporter, input
``[1,3,224,224]``) and onnxruntime's output for one fixed random input.  ``measure`` converts
each three times — with the layout passes skipped, by default, with ``--nhwc_inputs
--nhwc_outputs`` — counts Transpose nodes in model.json and runs the last two in TF.js 4.22,
printing the normalised error against onnxruntime.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / ".models" / "onnx"
NAMES = ("resnet18", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_1", "densenet121",
         "shufflenet_v2_x0_5", "googlenet", "mnasnet0_5", "regnet_y_400mf", "alexnet", "convnext_tiny")
NO_LAYOUT = ("--skip_pass", "sink_transposes", "--skip_pass", "merge_transposes")
NHWC = ("--nhwc_inputs", "--nhwc_outputs")


def export() -> None:
    import numpy as np
    import onnxruntime
    import torch
    import torchvision

    MODELS.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    x = np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)
    for name in NAMES:
        extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        model = getattr(torchvision.models, name)(weights=None, **extra).eval()
        path = MODELS / f"{name}.onnx"
        torch.onnx.export(model, torch.from_numpy(x), str(path), input_names=["input"],
                          output_names=["logits"], dynamo=False)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        np.savez(MODELS / f"{name}_reference.npz", x=x, y=session.run(None, {"input": x})[0])
        print(name, flush=True)


def _convert(name: str, flags: tuple[str, ...]) -> tuple[Path, int]:
    out = MODELS / "out" / f"{name}{'_'.join(('',) + tuple(f.strip('-') for f in flags))}"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "tfjs_lite", "convert", str(MODELS / f"{name}.onnx"), str(out),
                    *flags], check=True, capture_output=True)
    ops = Counter(n["op"] for n in json.loads((out / "model.json").read_text())["modelTopology"]["node"])
    return out, ops["Transpose"]


def measure() -> None:
    import numpy as np

    sys.path.insert(0, str(HERE.parent / "tests"))
    from tfjs_node import TfjsNode, compare

    node = TfjsNode().start()
    print("| model | transposes, layout passes off | default | error vs onnxruntime | "
          "--nhwc_inputs --nhwc_outputs | error |")
    print("|---|---|---|---|---|---|")
    for name in NAMES:
        reference = np.load(MODELS / f"{name}_reference.npz")
        cells = [str(_convert(name, NO_LAYOUT)[1])]
        for flags, x in (((), reference["x"]), (NHWC, reference["x"].transpose(0, 2, 3, 1))):
            out, count = _convert(name, flags)
            got = node.execute_graph(str(out), {"input": x})
            error = compare({"logits": np.asarray(got["logits"])}, {"logits": reference["y"]})
            cells += [str(count), f"{error:.1e}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    {"export": export, "measure": measure}[sys.argv[1] if len(sys.argv) > 1 else "measure"]()
