"""Environments: what each environment runs, and the rules for changing it.

Owns pins on environment branches (``pins``), the pure promotion policy (``policy``),
promotion and rollback in git (``promote``), the orchestration the CLI and the comment
commands share (``operations``) and deployment (``deploy``). May import
``engine.training``, ``engine.definitions`` and the seams (git, store, forge).
"""
