"""Definitions: the files under ``mlops/`` as typed, located, cross-checked values.

Owns the formats (pydantic models in ``formats``), the located YAML reader, loading,
cross-references, the JSON Schemas, and the allow-list of scikit-learn classes with their
parameter constraints (``catalog``). Pure apart from the catalog's cache file: imports only
``engine.errors``; everything else in the engine may import it.
"""
