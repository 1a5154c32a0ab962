"""``python -m engine.forge.standin``: serve the GitHub API stand-in on loopback."""

from engine.forge.standin.server import main

main()
