"""An on-call review of ``mlops serve``: what the server's own log says about bad requests.

Every request KServe's handler answered 400 was logged at ERROR with a full traceback
(about thirty lines): a client sending a wrong type all day buried the server's log in
tracebacks, set off alerts on ERROR lines and hid the one real error among them. A 400 is
the client's mistake: one WARNING line naming the route and the reason. An unknown column
name (any text a client sends) was also echoed whole into the answer and the log.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.func.serving import call, served, staged

__all__ = ["staged"]

pytestmark = pytest.mark.slow
ROW = [5.1, 3.5, 1.4, 0.2]
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def test_a_refused_request_is_one_warning_line_without_a_traceback(staged):
    long_name = "z" * 100_000
    with served(staged, "--env", "staging") as url:
        port = url.rsplit(":", 1)[1]
        predict = f"{url}/v1/models/iris-logreg:predict"
        wrong_type = call(predict, {"instances": [dict(zip(IRIS, ["x", 3.5, 1.4, 0.2]))]})
        not_json = call(predict, raw=b'{"instances": [NaN]}')
        extra = call(predict, {"instances": [{**dict(zip(IRIS, ROW)), long_name: 1}]})
        assert call(predict, {"instances": [ROW]}).status == 200
    assert (wrong_type.status, not_json.status, extra.status) == (400, 400, 400)
    assert "expected a number, got 'x'" in wrong_type.body["error"]
    assert "line 1 column 16" in not_json.body["error"]
    assert "send null for a missing value" in not_json.body["error"]
    assert "unknown column 'zzz" in extra.body["error"] and len(json.dumps(extra.body)) < 2_000
    log = (staged.parent / f"serve-{port}.log").read_text()
    assert "Traceback" not in log
    refused = [line for line in log.splitlines() if re.search(r"\b400\b.*iris-logreg", line)]
    assert len(refused) == 3 and all("WARNING" in line for line in refused), refused
    assert "expected a number, got 'x'" in refused[0]
    assert long_name not in log and max(map(len, log.splitlines())) < 2_000


def test_after_deploy_retrains_a_lost_version_the_way_back_to_serving_is_said(
    two_staged_template, tmp_path
):
    """The store lost staging's version (or it was damaged and removed, as the error says).
    ``mlops deploy`` retrained it, reproduced its metrics and said ``ready``; but the new
    file has a new sha256, so ``mlops serve`` (and a KServe pod) refused to start with it,
    and its error sent the on-call person back to remove the version and deploy again: a
    loop. Now deploy says the file must be pinned, and how; doing so serves again."""
    import shutil

    from engine.environments.pins import read_pins
    from tests.conftest import copy_prepared
    from tests.func.serving import mlops

    copy_prepared(two_staged_template, tmp_path)
    repo = tmp_path / "repo"
    pin = (read_pins(repo, "env/staging") or {})["iris-logreg"]
    shutil.rmtree(repo / ".mlops" / "store" / "iris-logreg" / pin.fingerprint)
    deployed = mlops("deploy", "--env", "staging", cwd=repo)
    assert deployed.returncode == 0, deployed.stderr
    command = f"mlops promote iris-logreg --to staging --rev {pin.source_commit[:12]}"
    assert "is not the pinned one" in deployed.stdout and command in deployed.stdout
    refused = mlops("serve", "--env", "staging", "--model", "iris-logreg", cwd=repo)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "promote it again to pin the new file" in refused.stderr, refused.stderr
    promoted = mlops(*command.split()[1:], cwd=repo)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    with served(repo, "--env", "staging", "--model", "iris-logreg") as url:
        assert call(f"{url}/v1/models/iris-logreg:predict", {"instances": [ROW]}).status == 200
