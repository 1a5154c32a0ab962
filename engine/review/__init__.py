"""Review: what a change did to each model, as a reviewer reads it.

Owns comparisons and gates (``compare``), paired significance (``significance``), the
markdown report (``report``, pure) and the pipeline that trains, rescores and compares
base and head (``pipeline``). May import ``engine.training``, ``engine.data``,
``engine.definitions`` and the seams; never ``engine.github`` or ``engine.api``.
"""
