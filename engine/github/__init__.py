"""GitHub: from an Actions event to the engine's handlers, and back to the pull request.

Owns webhook payloads (``events``), the dispatcher (``workflow``) and its ``context``,
comment commands (``commands`` parses, ``chatops`` acts), the report bundle the two
pull-request halves exchange (``bundle``) and the Actions runtime (``actions``). The top
of the engine below the CLI: may import anything except ``engine.cli``.
"""
