"""Data: a dataset's rows as Arrow tables, checked against its definition and profiled.

Owns loading (``tables``: scikit-learn loaders, CSV/Parquet in the working tree or at a
revision through DVC), the columnar data checks (``checks``, pure) and data profiles
(``profile``). May import ``engine.definitions`` and ``engine.errors``.
"""
