"""An outside review of ``mlops serve`` over real HTTP (defects still open in
``engine/serving/``, marked ``xfail(strict=True)``; the reasons name the code and the fix).
"""

from __future__ import annotations

import pytest

from tests.func.serving import call, served, staged

__all__ = ["staged"]

pytestmark = pytest.mark.slow
IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def server(staged):
    with served(staged, "--env", "staging") as url:
        yield url


def test_the_reference_request_answers(server):
    reply = call(f"{server}/v1/models/iris-logreg:predict", {"instances": [ROW]})
    assert reply.status == 200, reply.body


def test_a_huge_integer_in_a_v2_tensor_is_a_400(server):
    data = b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[1%s,3.5,1.4,0.2]}]}'
    reply = call(f"{server}/v2/models/iris-logreg/infer", raw=data % (b"0" * 400))
    assert reply.status == 400, reply.body


def test_a_cross_site_text_plain_post_is_refused(server):
    reply = call(
        f"{server}/v1/models/iris-logreg:predict",
        raw=b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    assert reply.status == 415, reply.body


V2_ROW = b'{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}]}'


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [
        ("/v2/models/iris-logreg/infer", "application/x-www-form-urlencoded", 415),
        ("/v2/models/iris-logreg/infer", "multipart/form-data; boundary=x", 415),
        ("/v2/models/iris-logreg/versions/{version}/infer", "text/plain;charset=UTF-8", 415),
        ("/v2/models/iris-logreg/infer", "application/json; charset=utf-8", 200),
        ("/v2/models/iris-logreg/infer", "Application/JSON", 200),
    ],
)
def test_only_a_json_body_is_read_on_every_route(server, path, content_type, status):
    version = call(f"{server}/v2/models/iris-logreg").body["versions"][0]
    url = server + path.format(version=version)
    reply = call(url, raw=V2_ROW, headers={"content-type": content_type})
    assert reply.status == status, reply.body


@pytest.mark.parametrize("model", ["iris-logreg", "diabetes-ridge"])
def test_v2_metadata_declares_what_infer_returns(server, staged, model):
    meta = call(f"{server}/v2/models/{model}").body
    width = len(meta["inputs"])
    inputs = [{"name": "x", "shape": [1, width], "datatype": "FP64", "data": [0.1] * width}]
    answer = call(f"{server}/v2/models/{model}/infer", {"inputs": inputs}).body
    declared = {o["name"]: o["datatype"] for o in meta["outputs"]}
    returned = {o["name"]: o["datatype"] for o in answer["outputs"]}
    assert declared == returned
    assert meta["versions"] == [answer["model_version"]]
