"""The parts of the ``tfjs-lite verify`` and ``tfjs-lite inspect`` commands.

The commands themselves are :mod:`tfjs_lite.verify` and :mod:`tfjs_lite.inspect`; this package
holds what they are built from:

* :mod:`~tfjs_lite.tools.args`: the argument parser and source-reading flags every command shares;
* :mod:`~tfjs_lite.tools.source`: reading a source model as the graph-model converter reads it;
* :mod:`~tfjs_lite.tools.verify_inputs` / :mod:`~tfjs_lite.tools.verify_report`: feeds, comparison
  and tolerances of ``verify``;
* :mod:`~tfjs_lite.tools.inspect_graph` / :mod:`~tfjs_lite.tools.inspect_keras` /
  :mod:`~tfjs_lite.tools.inspect_text`: the report of ``inspect`` and its text form.
"""
