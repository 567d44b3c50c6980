"""Make the (large, git-ignored) benchmark models under benchmarks/.models/.

Run by hand with a TensorFlow environment (see fixtures/README.md):

    /path/to/tfenv/bin/python benchmarks/make_models.py            # all normal models
    /path/to/tfenv/bin/python benchmarks/make_models.py mlp cnn    # only some
    /path/to/tfenv/bin/python benchmarks/make_models.py --huge     # only the >2.5 GB SavedModel

Every model folder gets the same files as the fixtures: the model (`model.h5` and/or
`saved_model/`), `inputs.json`, `expected.json` (TensorFlow's outputs for a fixed input; for a
SavedModel keyed by the serving_default signature's names, for an h5 by the Keras layer names) and
`case.json`. When a model exists in both forms there are two expectation files:
`expected.json` (Keras names) and `expected_saved_model.json` (+ `inputs_saved_model.json`).
Weights come from fixed seeds (no downloads: `weights=None`).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "fixtures"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from _common import dir_size, fresh_dir, write_json, write_tensors  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402

OUT = os.path.join(ROOT, "benchmarks", ".models")
L = tf_keras.layers
SOURCE = {
    "tensorflow": tf.__version__,
    "tf_keras": tf_keras.__version__,
    "numpy": np.__version__,
    "script": "benchmarks/make_models.py",
}
MODELS = {}


def model(fn):
    MODELS[fn.__name__] = fn
    return fn


# ----------------------------------------------------------------------------- helpers


def set_fixed_weights(m, seed):
    """Seeded, roughly variance-preserving weights (keeps deep nets finite)."""
    rng = np.random.default_rng(seed)
    new = []
    for w in m.weights:
        shape = tuple(int(d) for d in w.shape)
        lname = w.name.lower()
        if "moving_variance" in lname:
            val = rng.uniform(0.8, 1.2, size=shape)
        elif "gamma" in lname:
            val = rng.uniform(0.4, 0.6, size=shape)
        elif "moving_mean" in lname or "beta" in lname:
            val = rng.normal(0.0, 0.05, size=shape)
        elif len(shape) <= 1:
            val = rng.normal(0.0, 0.02, size=shape)
        else:
            fan_in = int(np.prod(shape[:-1]))
            if "depthwise" in lname:
                fan_in = int(np.prod(shape[:2]))
            val = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=shape)
        new.append(val.astype(w.dtype.as_numpy_dtype))
    m.set_weights(new)


def sharpen(m, factor):
    """Scale the last layer's kernel so the softmax outputs are far from uniform."""
    w = m.layers[-1].get_weights()
    w[0] = w[0] * factor
    m.layers[-1].set_weights(w)


def keras_names(m):
    return list(m.input_names), list(m.output_names)


def keras_predict(m, inputs):
    outs = m(inputs if len(inputs) > 1 else inputs[0], training=False)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    return [np.asarray(o) for o in outs]


def signature_names(sm_dir, signature="serving_default"):
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(sm_dir, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    sig = sm.meta_graphs[0].signature_def[signature]
    return sorted(sig.inputs), sorted(sig.outputs)


def run_signature(sm_dir, inputs, signature="serving_default"):
    loaded = tf.saved_model.load(sm_dir)
    res = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in res.items()}


def save_keras_model(name, m, inputs, *, h5=True, saved_model=True, notes=""):
    """Write model.h5 and/or saved_model/ plus the expectation files for one Keras model."""
    d = fresh_dir(os.path.join(OUT, name))
    in_names, out_names = keras_names(m)
    meta = {"name": name, "inputs": in_names, "outputs": out_names, "notes": notes,
            "params": int(m.count_params()), "source": SOURCE, "files": {}}
    if h5:
        t0 = time.time()
        m.save(os.path.join(d, "model.h5"))
        meta["files"]["model.h5"] = os.path.getsize(os.path.join(d, "model.h5"))
        outs = keras_predict(m, inputs)
        write_tensors(os.path.join(d, "inputs.json"), list(zip(in_names, inputs)))
        write_tensors(os.path.join(d, "expected.json"), list(zip(out_names, outs)))
        print(f"  {name}: model.h5 {meta['files']['model.h5'] / 1e6:.1f} MB "
              f"({time.time() - t0:.1f}s)")
    if saved_model:
        t0 = time.time()
        sm_dir = os.path.join(d, "saved_model")
        tf.saved_model.save(m, sm_dir)
        sig_in, sig_out = signature_names(sm_dir)
        by_name = dict(zip(in_names, inputs))
        feeds = {k: by_name[k] for k in sig_in}
        res = run_signature(sm_dir, feeds)
        suffix = "_saved_model" if h5 else ""
        write_tensors(os.path.join(d, f"inputs{suffix}.json"), [(k, feeds[k]) for k in sig_in])
        write_tensors(os.path.join(d, f"expected{suffix}.json"), [(k, res[k]) for k in sig_out])
        meta["signature"] = "serving_default"
        meta["signature_inputs"] = sig_in
        meta["signature_outputs"] = sig_out
        meta["files"]["saved_model"] = dir_size(sm_dir)
        print(f"  {name}: saved_model {meta['files']['saved_model'] / 1e6:.1f} MB "
              f"({time.time() - t0:.1f}s)")
    write_json(os.path.join(d, "case.json"), meta)


# ----------------------------------------------------------------------------- models


@model
def mlp():
    inp = L.Input(shape=(256,), name="x")
    h = L.Dense(512, activation="relu", name="fc1")(inp)
    h = L.Dense(512, activation="relu", name="fc2")(h)
    out = L.Dense(10, activation="softmax", name="probs")(h)
    m = tf_keras.Model(inp, out, name="mlp")
    set_fixed_weights(m, 1)
    x = np.random.default_rng(1).normal(size=(8, 256)).astype(np.float32)
    save_keras_model("mlp", m, [x], notes="Dense 256-512-512-10 (~0.4M params).")


@model
def cnn():
    inp = L.Input(shape=(64, 64, 3), name="image")
    x = inp
    for i, ch in enumerate([32, 64, 128]):
        x = L.Conv2D(ch, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = L.BatchNormalization(name=f"bn{i}")(x)
        x = L.ReLU(name=f"relu{i}")(x)
        x = L.DepthwiseConv2D(3, padding="same", name=f"dw{i}")(x)
        x = L.ReLU(max_value=6.0, name=f"relu6_{i}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    out = L.Dense(100, activation="softmax", name="probs")(x)
    m = tf_keras.Model(inp, out, name="cnn")
    set_fixed_weights(m, 2)
    sharpen(m, 30.0)
    x = np.random.default_rng(2).normal(size=(4, 64, 64, 3)).astype(np.float32)
    save_keras_model("cnn", m, [x], notes="3 x (Conv2D+BN+ReLU, DepthwiseConv2D+ReLU6, MaxPool), "
                                          "GAP, Dense.")


@model
def mobilenet_v2():
    m = tf_keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    set_fixed_weights(m, 3)
    sharpen(m, 30.0)
    x = np.random.default_rng(3).uniform(-1, 1, size=(1, 224, 224, 3)).astype(np.float32)
    save_keras_model("mobilenet_v2", m, [x], saved_model=False,
                     notes="tf_keras.applications.MobileNetV2(weights=None), 3.5M params, h5.")


def _resnet50():
    m = tf_keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    set_fixed_weights(m, 4)
    sharpen(m, 30.0)
    return m, np.random.default_rng(4).uniform(-1, 1, size=(1, 224, 224, 3)).astype(np.float32)


@model
def resnet50():
    m, x = _resnet50()
    save_keras_model("resnet50", m, [x], h5=False,
                     notes="tf_keras.applications.ResNet50(weights=None), 25.6M params, "
                           "SavedModel (tf.saved_model.save).")


@model
def resnet50_h5():
    """The same ResNet-50 as ``resnet50``, as a Keras .h5 (for the Keras → graph-model benchmark)."""
    m, x = _resnet50()
    save_keras_model("resnet50_h5", m, [x], saved_model=False,
                     notes="tf_keras.applications.ResNet50(weights=None), 25.6M params, h5.")


@model
def resnet50_keras():
    """Keras 3's ResNet-50 as a ``.keras`` archive (the .keras reader's benchmark: its weights
    member is read in place, docs/formats.md)."""
    import keras

    keras.utils.set_random_seed(4)
    m = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    x = np.random.default_rng(4).uniform(-1, 1, size=(1, 224, 224, 3)).astype(np.float32)
    d = fresh_dir(os.path.join(OUT, "resnet50_keras"))
    m.save(os.path.join(d, "model.keras"))
    in_names = [t._keras_history[0].name for t in m.inputs]
    out_names = [t._keras_history[0].name for t in m.outputs]
    write_tensors(os.path.join(d, "inputs.json"), list(zip(in_names, [x])))
    write_tensors(os.path.join(d, "expected.json"), list(zip(out_names, [m.predict(x, verbose=0)])))
    write_json(os.path.join(d, "case.json"), {"name": "resnet50_keras", "params": int(m.count_params()),
                                              "files": {"model.keras": os.path.getsize(os.path.join(d, "model.keras"))},
                                              "notes": "keras.applications.ResNet50(weights=None), Keras 3, .keras",
                                              "source": SOURCE})


@model
def lstm():
    inp = L.Input(shape=(32,), dtype="int32", name="tokens")
    x = L.Embedding(1000, 64, name="embed")(inp)
    x = L.LSTM(128, return_sequences=True, name="lstm1")(x)
    x = L.LSTM(128, name="lstm2")(x)
    out = L.Dense(5, activation="softmax", name="probs")(x)
    m = tf_keras.Model(inp, out, name="lstm")
    set_fixed_weights(m, 5)
    sharpen(m, 30.0)
    x = np.random.default_rng(5).integers(0, 1000, size=(4, 32)).astype(np.int32)
    save_keras_model("lstm", m, [x], notes="Embedding(1000, 64) -> LSTM(128, seq) -> LSTM(128) "
                                           "-> Dense; h5 and SavedModel (While loops).")


class PositionEmbedding(L.Layer):
    """Adds a learned [seq, dim] position table (SavedModel only, so a custom layer is fine)."""

    def build(self, input_shape):
        self.table = self.add_weight(name="table", shape=(int(input_shape[1]),
                                                          int(input_shape[2])))
        super().build(input_shape)

    def call(self, x):
        return x + self.table[tf.newaxis]


@model
def transformer():
    seq, dim, heads, ff, vocab = 32, 64, 4, 128, 500
    inp = L.Input(shape=(seq,), dtype="int32", name="tokens")
    tok = L.Embedding(vocab, dim, name="tok_embed")(inp)
    x = PositionEmbedding(name="pos_embed")(tok)
    for i in range(2):
        att = L.MultiHeadAttention(heads, dim // heads, name=f"mha{i}")(x, x)
        x = L.LayerNormalization(epsilon=1e-6, name=f"ln_a{i}")(L.Add(name=f"res_a{i}")([x, att]))
        h = L.Dense(ff, activation="gelu", name=f"ff1_{i}")(x)
        h = L.Dense(dim, name=f"ff2_{i}")(h)
        x = L.LayerNormalization(epsilon=1e-6, name=f"ln_f{i}")(L.Add(name=f"res_f{i}")([x, h]))
    x = L.GlobalAveragePooling1D(name="pool")(x)
    out = L.Dense(3, activation="softmax", name="probs")(x)
    m = tf_keras.Model(inp, out, name="transformer")
    set_fixed_weights(m, 6)
    x = np.random.default_rng(6).integers(0, vocab, size=(2, seq)).astype(np.int32)
    save_keras_model("transformer", m, [x], h5=False,
                     notes="2-block encoder (MultiHeadAttention, LayerNorm, Dense gelu FFN), "
                           "SavedModel only (MHA is not a tfjs-layers layer).")


def huge():
    """A SavedModel whose variables total > 2.5 GB (3 x 0.94 GB float32)."""
    rows, cols, count = 1024, 230_000, 3

    class Huge(tf.Module):
        def __init__(self):
            super().__init__()
            self.ws = []
            for i in range(count):
                init = tf.random.stateless_normal([rows, cols], seed=[7, i], stddev=0.03)
                self.ws.append(tf.Variable(init, name=f"w{i}"))
            self.b = tf.Variable(tf.zeros([cols]), name="b")

        @tf.function(input_signature=[tf.TensorSpec([None, rows], tf.float32, name="x")])
        def __call__(self, x):
            ys = [tf.reduce_sum(tf.nn.relu(tf.matmul(x, w) + self.b), axis=-1) for w in self.ws]
            return {"y": tf.stack(ys, axis=-1)}

    d = fresh_dir(os.path.join(OUT, "huge"))
    sm_dir = os.path.join(d, "saved_model")
    m = Huge()
    t0 = time.time()
    tf.saved_model.save(m, sm_dir, signatures={"serving_default": m.__call__})
    x = np.random.default_rng(8).normal(size=(2, rows)).astype(np.float32)
    res = m(tf.constant(x))
    write_tensors(os.path.join(d, "inputs.json"), [("x", x)])
    write_tensors(os.path.join(d, "expected.json"), [("y", res["y"].numpy())])
    write_json(os.path.join(d, "case.json"), {
        "name": "huge", "inputs": ["x"], "outputs": ["y"], "signature": "serving_default",
        "signature_inputs": ["x"], "signature_outputs": ["y"],
        "notes": f"{count} float32 variables of shape [{rows}, {cols}] (> 2.5 GB in total).",
        "files": {"saved_model": dir_size(sm_dir)}, "source": SOURCE})
    print(f"  huge: saved_model {dir_size(sm_dir) / 1e9:.2f} GB ({time.time() - t0:.1f}s)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help=f"subset of {sorted(MODELS)}")
    ap.add_argument("--huge", action="store_true",
                    help="make the > 2.5 GB SavedModel (alone, unless names are given too)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    names = args.names or ([] if args.huge else list(MODELS))
    for n in names:
        tf_keras.utils.set_random_seed(0)
        print(n)
        MODELS[n]()
    if args.huge:
        huge()
    for n in sorted(os.listdir(OUT)):
        print(f"{n:16s} {dir_size(os.path.join(OUT, n)) / 1e6:10.1f} MB")


if __name__ == "__main__":
    main()
