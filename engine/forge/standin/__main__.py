"""``python -m engine.forge.standin``: serve the GitHub API stand-in on loopback until stopped."""

from __future__ import annotations

import argparse
import time

from engine.forge.standin.faults import DEFAULT_TOKEN
from engine.forge.standin.server import GitHubStandIn


def main(argv: list[str] | None = None) -> None:
    """``python -m engine.forge.standin``: serve until interrupted, printing the URL."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.forge.standin",
        description="A local stand-in of the GitHub REST API.",
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--repo", default="octo-org/octo-repo", help="owner/name")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN=LOGIN",
        help="accept TOKEN as LOGIN (repeatable; ghs_standin always works)",
    )
    parser.add_argument(
        "--permission",
        action="append",
        default=[],
        metavar="LOGIN=ROLE",
        help="collaborator role: admin, maintain, write, triage, read",
    )
    parser.add_argument(
        "--pull",
        action="append",
        default=[],
        metavar="NUMBER=HEAD_SHA",
        help="open pull request NUMBER with head commit HEAD_SHA",
    )
    args = parser.parse_args(argv)
    standin = GitHubStandIn(args.repo, port=args.port)
    for item in args.token:
        token, _, login = item.partition("=")
        standin.add_token(token, login or "octocat", app=login.endswith("[bot]"))
    try:
        for item in args.permission:
            login, _, role = item.partition("=")
            standin.set_permission(login, role)
        for item in args.pull:
            number, _, sha = item.partition("=")
            standin.add_pull(int(number), head_sha=sha)
    except ValueError as exc:
        parser.error(str(exc))
    with standin:
        print(f"GitHub API stand-in for {standin.repo} at {standin.url}", flush=True)
        print(
            f"  export GITHUB_API_URL={standin.url} GITHUB_REPOSITORY={standin.repo} "
            f"GITHUB_TOKEN={DEFAULT_TOKEN}",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
