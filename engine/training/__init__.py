"""Training: from definitions at a revision to stored, evaluated model versions.

Owns fingerprints and the change plan (pure), planning (reading two revisions), training
and evaluation, training runs as a whole (``jobs``), and the run records the store keeps.
May import ``engine.definitions``, ``engine.data``, and the seams ``engine.gitrepo`` and
``engine.store``.
"""
