"""A stand-in of the GitHub REST API over real HTTP, for trying the engine and for tests.

``state`` holds what GitHub would store, ``payloads`` shapes it as GitHub's JSON,
``routes`` maps requests to state changes, and ``server`` serves them on loopback
(``python -m engine.forge.standin --port 8765 --repo me/models``).
"""
