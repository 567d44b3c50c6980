"""Regenerate tfjs_lite/data/op_defs.json from a TensorFlow install (run with TF's Python, once).

SavedModels ship OpDefs only for the ops of the top-level graph (``stripped_op_list``); ops used
only inside function bodies (e.g. ``TensorListGetItem`` in a while body) and frozen GraphDefs come
without them. The reader needs, per op, the output-arg list (to resolve ``node:out_arg:i``) and the
attr defaults (to restore stripped attrs). This script dumps exactly those facts.

Usage: /path/to/tf/python scripts/gen_op_outputs.py > tfjs_lite/data/op_defs.json
"""

import json
import sys

from google.protobuf import json_format
import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api


def main():
    ops = {}
    buf = c_api.TF_GetAllOpList()
    op_list = op_def_pb2.OpList()
    op_list.ParseFromString(c_api.TF_GetBuffer(buf))
    for op_def in sorted(op_list.op, key=lambda o: o.name):
        name = op_def.name
        if name.startswith("_") and not name.startswith("_Fused"):
            continue
        outs = [[a.name, a.type, a.type_attr, a.number_attr, a.type_list_attr] for a in op_def.output_arg]
        defaults = {a.name: json_format.MessageToDict(a.default_value)
                    for a in op_def.attr if a.HasField("default_value")}
        entry = {"o": outs}
        if defaults:
            entry["d"] = defaults
        ops[name] = entry
    json.dump({"_source": f"TensorFlow {tf.__version__} op registry via scripts/gen_op_outputs.py",
               "ops": ops}, sys.stdout, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    main()
