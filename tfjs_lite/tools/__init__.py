"""The ``tfjs-lite verify`` and ``tfjs-lite inspect`` commands.

The commands are :mod:`~tfjs_lite.tools.verify_model` and :mod:`~tfjs_lite.tools.inspect_model`
(named so that no module shadows the standard library's ``inspect``); they are built from:

* :mod:`~tfjs_lite.tools.args`: the argument parser and source-reading flags every command shares;
* :mod:`~tfjs_lite.tools.source`: reading a source model as the graph-model converter reads it;
* :mod:`~tfjs_lite.tools.verify_inputs` / :mod:`~tfjs_lite.tools.verify_report`: feeds, comparison
  and tolerances of ``verify``;
* :mod:`~tfjs_lite.tools.inspect_graph` / :mod:`~tfjs_lite.tools.inspect_keras` /
  :mod:`~tfjs_lite.tools.inspect_text`: the report of ``inspect`` and its text form.
"""
