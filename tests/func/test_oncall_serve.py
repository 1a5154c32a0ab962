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
    assert "unknown column 'zzz" in extra.body["error"] and len(json.dumps(extra.body)) < 2_000
    log = (staged.parent / f"serve-{port}.log").read_text()
    assert "Traceback" not in log
    refused = [line for line in log.splitlines() if re.search(r"\b400\b.*iris-logreg", line)]
    assert len(refused) == 3 and all("WARNING" in line for line in refused), refused
    assert "expected a number, got 'x'" in refused[0]
    assert long_name not in log and max(map(len, log.splitlines())) < 2_000
