"""Everything tfjs-lite knows about Keras models.

* :mod:`tfjs_lite.keras.layers` — the one Keras layer table: model/wrapper classes, legacy class
  names, RNN cells, which weights each class owns (in Keras order), shape checks, snake-case names.
* :mod:`tfjs_lite.keras.validate` — structural validation of a model config, before anything reads it.
* :mod:`tfjs_lite.keras.config` — Keras 3 → Keras 2 / tfjs-layers config translation.
* :mod:`tfjs_lite.keras.keras3_config`, :mod:`tfjs_lite.keras.compat` — the other way (Keras 2 style
  → Keras 3 ``config.json``; keys each Keras refuses), for the ``.keras``/``.h5`` writers.
* :mod:`tfjs_lite.keras.weight_paths` — pairing stored weights with the names tfjs-layers matches.
* :mod:`tfjs_lite.keras.manifest_weights` — which layer owns each weight of a TF.js manifest.
* :mod:`tfjs_lite.keras.preflight` — the tfjs-layers 4.22 support table and the refusal check.
* :mod:`tfjs_lite.keras.lowering` — Keras layers → TF ops of the IR (the graph-model path).
"""
