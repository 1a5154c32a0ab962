"""A stand-in of the GitHub REST API over real HTTP, for trying the engine and for tests.

``records`` are what GitHub would store and ``state`` applies GitHub's rules to them;
``payloads`` (accounts, issues, comments) and ``commit_payloads`` (pull requests, reviews,
the timeline, statuses, deployments) shape them as GitHub's JSON; ``routes`` (plumbing),
``commit_routes`` and ``api`` map requests to state changes; ``faults`` holds tokens and
injected failures, and ``server`` serves it all on loopback
(``python -m engine.forge.standin --port 8765 --repo me/models``).
"""
