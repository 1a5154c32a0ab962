"""Serving: what an environment branch pins, answering requests and scoring files.

- ``inputs``: the pure checks of a request's rows against the dataset schema (no I/O).
- ``logs``: one JSON line per prediction, with KServe's payload-logger fields, and the
  reader monitoring uses (:func:`read_prediction_logs`).
- ``manifest``: the pure renderer of KServe ``InferenceService`` manifests.
- ``pinned``: the pinned versions of an environment, loaded and verified from the store.
- ``canary``: the pure, seeded weight split between a stable and a canary version.
- ``model`` / ``app`` / ``server``: one ``kserve.Model`` per pinned model on KServe's
  ``ModelServer`` and REST server (``mlops serve``), with the engine's limits; imported
  only when serving, since kserve is an optional extra (``mlops-engine[serve]``).
- ``batch``: ``mlops predict``, a file scored in chunks with pyarrow.

May import ``engine.environments``, ``engine.training``, ``engine.definitions`` and the
store seam; nothing here imports git directly.
"""
