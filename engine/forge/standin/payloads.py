"""JSON bodies of the GitHub stand-in, shaped after GitHub's recorded responses.

Every builder returns the fields GitHub sends (as recorded in github3.py's own cassettes,
``shared/fixtures/github/cassettes/``), with URLs pointing back at the stand-in, so that
github3.py parses them unchanged: it reads many of these keys with ``json["key"]`` and
raises ``IncompleteResponse`` when one is missing. The builders are pure functions of the
stand-in's records (see :mod:`engine.forge.standin.server`) and its base URLs.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

from engine.forge.standin.records import (
    Comment,
    Issue,
    Reaction,
    Repo,
    User,
)

_REACTION_KEYS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
# (key, path suffix) of the URL fields of a repository, exactly as GitHub lists them.
_REPO_URLS = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)


def node_id(kind: str, number: int) -> str:
    """A GitHub-like opaque node id (``MDQ6VXNlcjE=`` style)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def user(api: str, web: str, u: User) -> dict[str, Any]:
    """A user or bot, as embedded in comments, pull requests and statuses."""
    url = f"{api}/users/{u.login}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id("User" if u.type == "User" else "Bot", u.id),
        "avatar_url": f"{web}/avatars/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{web}/{u.login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": u.type,
        "site_admin": False,
        "user_view_type": "public",
    }


def public_user(api: str, web: str, u: User) -> dict[str, Any]:
    """An account as ``GET /users/{login}`` shows it to anyone (GitHub's ``public-user``)."""
    return {
        **user(api, web, u),
        "name": u.login,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": u.created_at,
        "updated_at": u.created_at,
    }


def private_user(api: str, web: str, u: User) -> dict[str, Any]:
    """The token's own account, ``GET /user`` (GitHub's ``private-user``)."""
    return {
        **public_user(api, web, u),
        "user_view_type": "private",
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": True,
        "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
    }


def repo(api: str, web: str, r: Repo, owner: User, *, full: bool = False) -> dict[str, Any]:
    """A repository as pull requests embed it, or in ``full`` (``GET /repos/{owner}/{repo}``).

    Only the full one carries ``temp_clone_token`` (``null``: there is no private clone to
    grant); in a pull request's ``head.repo`` GitHub documents it as a string and leaves it out.
    """
    url = f"{api}/repos/{r.full_name}"
    body: dict[str, Any] = {
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.full_name.split("/")[1],
        "full_name": r.full_name,
        "private": r.private,
        "owner": user(api, web, owner),
        "html_url": f"{web}/{r.full_name}",
        "description": r.description,
        "fork": r.fork,
        "url": url,
    }
    body.update({key: url + suffix for key, suffix in _REPO_URLS})
    body.update(
        {
            "created_at": r.created_at,
            "updated_at": r.created_at,
            "pushed_at": r.created_at,
            "git_url": f"git://{web.split('://')[-1]}/{r.full_name}.git",
            "ssh_url": f"git@stand-in:{r.full_name}.git",
            "clone_url": f"{web}/{r.full_name}.git",
            "svn_url": f"{web}/{r.full_name}",
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "topics": [],
            "visibility": "private" if r.private else "public",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": r.default_branch,
            "network_count": 0,
            "subscribers_count": 0,
        }
    )
    if full:
        body["temp_clone_token"] = None
    return body


def _reactions(api_url: str, reactions: list[Reaction]) -> dict[str, Any]:
    counts = dict.fromkeys(_REACTION_KEYS, 0)
    for r in reactions:
        counts[r.content] += 1
    return {"url": f"{api_url}/reactions", "total_count": len(reactions), **counts}


def html_and_text(text: str | None) -> tuple[str, str]:
    """``body_html`` and ``body_text`` for the ``full+json`` media type github3 asks for.

    GitHub documents both as strings even where ``body`` may be null: empty, then.
    """
    if text is None:
        return "", ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<p>{escaped}</p>", text


def comment(
    api: str,
    web: str,
    full_name: str,
    c: Comment,
    author: User,
    association: str,
    reactions: list[Reaction],
    is_pull: bool,
) -> dict[str, Any]:
    """An issue or pull-request comment."""
    url = f"{api}/repos/{full_name}/issues/comments/{c.id}"
    kind = "pull" if is_pull else "issues"
    body_html, body_text = html_and_text(c.body)
    return {
        "url": url,
        "html_url": f"{web}/{full_name}/{kind}/{c.issue}#issuecomment-{c.id}",
        "issue_url": f"{api}/repos/{full_name}/issues/{c.issue}",
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "user": user(api, web, author),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": association,
        "body_html": body_html,
        "body_text": body_text,
        "body": c.body,
        "reactions": _reactions(url, reactions),
        "performed_via_github_app": None,
    }


def label(api: str, full_name: str, name: str) -> dict[str, Any]:
    """A label as embedded in an issue."""
    ident = zlib.crc32(name.encode()) % 10**8
    return {
        "id": ident,
        "node_id": node_id("Label", ident),
        "url": f"{api}/repos/{full_name}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def issue(
    api: str,
    web: str,
    full_name: str,
    i: Issue,
    author: User,
    association: str,
    comments: int,
) -> dict[str, Any]:
    """An issue; a pull request seen through the issues API carries ``pull_request``."""
    url = f"{api}/repos/{full_name}/issues/{i.number}"
    body_html, body_text = html_and_text(i.body)
    body: dict[str, Any] = {
        "url": url,
        "repository_url": f"{api}/repos/{full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{web}/{full_name}/{'pull' if i.is_pull else 'issues'}/{i.number}",
        "id": i.id,
        "node_id": node_id("Issue", i.id),
        "number": i.number,
        "title": i.title,
        "user": user(api, web, author),
        "labels": [label(api, full_name, name) for name in i.labels],
        "state": i.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": comments,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "author_association": association,
        "active_lock_reason": None,
        "body_html": body_html,
        "body_text": body_text,
        "body": i.body,
        "closed_by": None,
        "reactions": _reactions(url, []),
        "state_reason": None,
    }
    if i.is_pull:
        pulls = f"{api}/repos/{full_name}/pulls/{i.number}"
        html = f"{web}/{full_name}/pull/{i.number}"
        body["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,  # the stand-in never merges
        }
    return body


def reaction(api: str, web: str, r: Reaction, author: User) -> dict[str, Any]:
    """A reaction to a comment."""
    return {
        "id": r.id,
        "node_id": node_id("Reaction", r.id),
        "user": user(api, web, author),
        "content": r.content,
        "created_at": r.created_at,
    }
