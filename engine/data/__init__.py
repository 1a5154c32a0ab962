"""Data: a dataset's rows as Arrow tables, checked against its definition and profiled.

Owns loading (``tables``: scikit-learn loaders, CSV/Parquet in the working tree or at a
revision), the DVC pointers that name data by md5 (``pointers``, pure: only the plain kind
``dvc add`` writes is accepted), the verified bytes behind them (``content``: working-tree
files checked against their pointer, revisions read by hash from the DVC cache or the
working tree's remote), the columnar data checks (``checks``, pure; they name columns
and rows, never values) and data profiles (``profile``). May import
``engine.definitions``, ``engine.errors`` and the git seam.
"""
