"""The parse cache by git blob id: it must never change a result.

Each test loads the same files with and without the cache and compares what a user sees
(typed definitions and rendered problems); the attacks are a corrupt cache file, a cache
file forged with another value for a blob (as a pull request could commit under
``.mlops/cache/``), and an entry left over from an edit of the file.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import subprocess

from engine.definitions.loading import load
from engine.definitions.parse_cache import ParseCache, blob_id, parser_key
from tests.unit.test_loading import IRIS, MODEL

KEY = b"k" * 32
FILES = {"mlops/datasets/iris.yaml": IRIS, "mlops/models/m.yaml": MODEL}


def seen(defs):
    """What a user sees of a load: the specs and the rendered problems."""
    specs = {n: e.spec for n, e in {**defs.datasets, **defs.models}.items()}
    return specs, [p.render() for p in sorted(defs.problems)]


class Counting(ParseCache):
    """Counts the parses the cache could not answer."""

    misses = 0

    def put(self, data, doc, blob=None):
        self.misses += 1
        super().put(data, doc, blob)


def test_blob_id_is_gits(tmp_path):
    (tmp_path / "f").write_bytes(MODEL)
    git = subprocess.run(
        ["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True, check=True
    )
    assert blob_id(MODEL) == git.stdout.strip()


def test_only_changed_files_are_parsed_and_results_are_the_same(tmp_path):
    cache = Counting(tmp_path, key=KEY)
    assert seen(load(FILES, cache)) == seen(load(FILES))
    assert cache.misses == 2
    cache.save()
    again = Counting(tmp_path, key=KEY)  # a new process: from disk
    assert seen(load(FILES, again)) == seen(load(FILES))
    assert again.misses == 0
    edited = {**FILES, "mlops/models/m.yaml": MODEL.replace(b"[accuracy]", b"[f1]")}
    assert seen(load(edited, again)) == seen(load(edited))
    assert again.misses == 1  # the changed file only
    assert load(edited, again).models["m"].spec.metrics == ["f1"]


def test_problems_on_a_cached_document_are_located_by_reparsing(tmp_path):
    cache = ParseCache(tmp_path, key=KEY)
    wrong = {"mlops/models/other.yaml": MODEL}  # file name != name: a located problem
    load(wrong, cache)
    cache.save()
    from_disk = ParseCache(tmp_path, key=KEY)
    assert seen(load(wrong, from_disk)) == seen(load(wrong))
    assert seen(load(wrong))[1] == [
        "mlops/models/other.yaml:1:7: error: name 'm' does not match the file name: rename "
        "the file to m.yaml or set name: other"
    ]


def test_a_corrupt_cache_file_is_ignored(tmp_path):
    cache = ParseCache(tmp_path, key=KEY)
    load(FILES, cache)
    cache.save()
    assert cache.path is not None
    raw = cache.path.read_bytes()
    for damaged in (raw[: len(raw) // 2], b"", b"\xff\xfe garbage", raw.replace(b"iris", b"irix")):
        cache.path.write_bytes(damaged)
        fresh = Counting(tmp_path, key=KEY)
        assert seen(load(FILES, fresh)) == seen(load(FILES))
        assert fresh.misses == 2
    # authenticated, yet no cache: a truncated or foreign body, another shape
    body = raw.partition(b"\n")[2]
    for odd in (body[: len(body) // 2], b"\xff\xfe garbage", marshal.dumps([1, 2])):
        cache.path.write_bytes(hmac.new(KEY, odd, "sha256").hexdigest().encode() + b"\n" + odd)
        fresh = Counting(tmp_path, key=KEY)
        assert seen(load(FILES, fresh)) == seen(load(FILES))
        assert fresh.misses == 2


def test_a_forged_cache_file_without_the_key_is_ignored(tmp_path):
    # a pull request commits .mlops/cache/...: the model's blob "parses" to other metrics
    cache = ParseCache(tmp_path, key=KEY)
    assert cache.path is not None
    lie = {blob_id(MODEL): {**load(FILES).models["m"].doc.value, "metrics": ["nonsense"]}}
    body = marshal.dumps({"parses": lie, "parser": parser_key()})
    for mac in (b"", hashlib.sha256(body).hexdigest().encode(), b"0" * 64):
        cache.path.parent.mkdir(parents=True, exist_ok=True)
        cache.path.write_bytes(mac + b"\n" + body)
        assert seen(load(FILES, ParseCache(tmp_path, key=KEY))) == seen(load(FILES))
    # the same entry under the right key is believed: the MAC is what protects it
    cache.path.write_bytes(hmac.new(KEY, body, "sha256").hexdigest().encode() + b"\n" + body)
    assert seen(load(FILES, ParseCache(tmp_path, key=KEY))) != seen(load(FILES))


def test_the_file_is_per_engine_version_and_format(tmp_path):
    cache = ParseCache(tmp_path, key=KEY)
    assert cache.path is not None
    assert cache.path.parent == tmp_path / ".mlops" / "cache"
    assert "-f3.bin" in cache.path.name and "definitions-" in cache.path.name


def test_parses_of_another_parser_are_read_again(tmp_path):
    # an edited yamlfile.py (an editable install, a pull request to the engine) or
    # another PyYAML: the parses on disk are not its parses
    cache = ParseCache(tmp_path, key=KEY)
    load(FILES, cache)
    cache.save()
    assert cache.path is not None
    stored = marshal.loads(cache.path.read_bytes().partition(b"\n")[2])
    assert stored["parser"] == parser_key()
    for parser in ("0" * 64, None):
        body = marshal.dumps({**stored, "parser": parser})
        cache.path.write_bytes(hmac.new(KEY, body, "sha256").hexdigest().encode() + b"\n" + body)
        fresh = Counting(tmp_path, key=KEY)
        assert seen(load(FILES, fresh)) == seen(load(FILES))
        assert fresh.misses == 2
