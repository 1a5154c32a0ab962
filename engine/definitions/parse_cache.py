"""Parsed definitions cached by git blob id: ``plan`` and ``validate`` parse what changed.

A definition's parse (plain value plus the line and column of every node) depends only
on its bytes, so it is keyed by their git blob id (``sha1("blob <size>\\0" + bytes)``,
the id git already uses: the same at every revision and in the working tree) and by the
engine's version and :data:`FORMAT`; on disk also by :func:`parser_key` (a hash of the
parser's code and of PyYAML's version). Two layers:

- in-process: a dict, so the two revisions of a plan share every unchanged file;
  only the plain value is kept: positions (the located parse costs about twice a plain
  one) are recovered by re-parsing the text the first time a problem needs one
  (:attr:`engine.definitions.yamlfile.Located.located`);
- on disk: ``.mlops/cache/definitions-<engine version>-f<FORMAT>.bin`` in the repository,
  read once and rewritten (atomically) when a run parsed something new.

Beside the parses it keeps ``derived`` facts computed from them (:meth:`ParseCache.recall`,
:meth:`ParseCache.remember`): that a blob is a valid definition of its kind and its
validated value as JSON (:attr:`engine.definitions.loading.Entry.dump`), that a
model with its dataset and feature set has no cross-reference problem, a model's
fingerprint from the blob ids it was computed from. These depend on the engine's code
as well, so they are kept under :func:`code_key` (a hash of the modules that compute
them and of pydantic's version): another engine, or an edited one, starts them afresh.

A cache must never change a result. A file committed under ``.mlops/cache/`` by a pull
request would otherwise be a way to make ``validate`` believe any file says anything, so
the disk file carries an HMAC-SHA256 under a key kept outside the repository (in the
user's cache directory, created 0600 on first use): a file without the right MAC is
ignored and the definitions are parsed again, as is a file that is unreadable, corrupt,
or of another format. The body is :mod:`marshal` data (plain dicts, lists, strings,
numbers: every value keeps its type; ten times quicker to write than JSON, which a cold
plan of thousands of definitions felt), unmarshalled only once its MAC is verified: on a
laptop only this user's engine holds the key; in CI, where the key travels with the
cache, only a job the default branch runs can save what a later job believes
(docs/security.md). Parse failures are not
cached: they are rare, and parsed again to report them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import marshal
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.blobs import blob_id
from engine.definitions import installed
from engine.definitions.user_cache import cache_dir

if TYPE_CHECKING:
    from engine.definitions.yamlfile import Located

FORMAT = 3
"""Bump when :mod:`engine.definitions.yamlfile`'s output or the file's encoding changes."""


class ParseCache:
    """Parses by blob id, in memory and (when ``root`` is given) on disk under it."""

    def __init__(self, root: Path | None = None, key: bytes | None = None) -> None:
        self.memory: dict[str, Any] = {}
        self.specs: dict[tuple[str, int], Any] = {}
        """Validated definitions, for :func:`engine.definitions.loading.load`."""
        self.entries: dict[tuple[str, str], Any] = {}
        """Their entries by (path, blob id), for the same."""
        self.derived: dict[str, Any] = {}
        self.touched: set[str] = set()
        self.path = None if root is None else root / ".mlops" / "cache" / _file_name()
        self.key = key
        self.dirty = False
        if self.path is not None:
            stored = _read(self.path, self._key())
            parses, derived = stored.get("parses"), stored.get("derived")
            if isinstance(parses, dict) and stored.get("parser") == parser_key():
                self.memory.update(parses)
            if isinstance(derived, dict) and stored.get("code") == code_key():
                self.derived.update(derived)

    def get(self, data: bytes, path: str) -> Located | None:
        """The cached parse of ``data`` as the document at ``path``, or None."""
        return self.lookup(blob_id(data), path, lambda: data)

    def knows(self, blob: str) -> bool:
        """Whether the blob with this id was parsed before."""
        return blob in self.memory

    def lookup(self, blob: str, path: str, source: Callable[[], bytes]) -> Located | None:
        """The cached parse of the blob ``blob`` (git's id) as the document at ``path``.

        ``source`` gives the bytes if a problem needs positions (they are not cached).
        """
        hit = self.memory.get(blob)
        if hit is None:
            return None
        return _located()(path, hit, located=False, source=source)

    def put(self, data: bytes, doc: Located, blob: str | None = None) -> None:
        """Remember a successful parse of ``data`` (whose blob id is ``blob``, if known)."""
        self.memory[blob or blob_id(data)] = doc.value
        self.dirty = True

    def adopt(self, blob: str, value: Any) -> None:
        """Remember the plain value of a successful parse of the blob ``blob`` made
        elsewhere (by a forked worker, :mod:`engine.training.parallel`)."""
        if blob not in self.memory:
            self.memory[blob] = value
            self.dirty = True

    def recall(self, key: str) -> Any:
        """A derived fact remembered under ``key`` (by this engine's code), or None."""
        value = self.derived.get(key)
        if value is not None:
            self.touched.add(key)
        return value

    def remember(self, key: str, value: Any) -> None:
        """Keep a derived fact (a JSON value, not None) for later runs of this engine."""
        if self.derived.get(key) != value:
            self.derived[key] = value
            self.dirty = True
        self.touched.add(key)

    def save(self) -> None:
        """Write the disk layer if this run added to it; a failure to write is ignored."""
        if self.path is None or not self.dirty:
            return
        if len(self.derived) > max(_MAX_DERIVED, 4 * len(self.touched)):
            # facts about blobs long gone: keep what this run used
            self.derived = {k: v for k, v in self.derived.items() if k in self.touched}
        stored = {
            "parses": self.memory,
            "parser": parser_key(),
            "code": code_key(),
            "derived": self.derived,
        }
        body = marshal.dumps(stored)
        mac = hmac.new(self._key(), body, "sha256").hexdigest().encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(mac + b"\n" + body)
            tmp.replace(self.path)
            self.dirty = False
        except OSError:
            pass  # a read-only checkout still works, just without the disk layer

    def _key(self) -> bytes:
        if self.key is None:
            self.key = _secret()
        return self.key


@functools.cache
def _located() -> type[Located]:
    """:class:`Located`, imported on first use: a run the cache answers whole reads no YAML."""
    from engine.definitions.yamlfile import Located

    return Located


_MAX_DERIVED = 50_000
# The modules whose code decides the derived facts (validity, cross-references, estimator
# checks, fingerprints): an edit to any of them (or another pydantic) starts the facts afresh.
_CODE = (
    "definitions/formats.py",
    "definitions/names.py",
    "definitions/loading.py",
    "definitions/references.py",
    "definitions/yamlfile.py",
    "definitions/yamlfast.py",
    "definitions/param_constraints.py",
    "definitions/catalog.py",
    "definitions/catalog_build.py",
    "definitions/catalog_format.py",
    "definitions/estimators.py",
    "training/fingerprint.py",
    "training/plan.py",
    "training/planning.py",
    "data/pointers.py",
    "errors.py",
)


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """A hash of the engine code and pydantic version that derived facts depend on.

    pydantic's version comes from its installed folder's name: a review that the cache
    answers whole (:func:`engine.training.planning.unchanged`) never imports pydantic.
    """
    engine = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{FORMAT}:{installed.version('pydantic')}:{_file_name()}".encode())
    for name in _CODE:
        try:
            digest.update(name.encode() + b"\0" + (engine / name).read_bytes())
        except OSError:
            digest.update(name.encode() + b"\0missing")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def parser_key() -> str:
    """A hash of the code a parse depends on: the YAML modules of the engine and PyYAML.

    The parses are kept under it, so an edited parser (an editable install, a pull
    request to the engine itself) or another PyYAML reads every file again.
    """
    here = Path(__file__).resolve()
    code = b""
    for name in ("yamlfile.py", "yamlfast.py"):
        try:
            code += here.with_name(name).read_bytes() + b"\0"
        except OSError:
            code += b"missing\0"
    # PyYAML's version from its installed folder: reading the cache imports no YAML parser
    version = installed.version("PyYAML")
    return hashlib.sha256(f"{FORMAT}:{version}:".encode() + code).hexdigest()


@functools.cache
def _file_name() -> str:
    try:
        version = installed.version("mlops-engine")
    except ImportError:  # importlib.metadata.PackageNotFoundError: not installed
        version = "unknown"
    return f"definitions-{version}-f{FORMAT}.bin"


def mac_key() -> bytes:
    """The key that authenticates the engine's caches under ``.mlops/cache/``."""
    return _secret()


def _secret() -> bytes:
    """The MAC key, kept outside every repository; created on first use."""
    path = cache_dir() / "parse-cache.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key.hex())
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())  # another process won the race
    except OSError:
        pass  # no cache directory: this process's key only (nothing reusable on disk)
    return key


def _read(path: Path, key: bytes) -> dict[str, Any]:
    """The disk layer's entries, or none if missing, unauthenticated or malformed."""
    try:
        raw = path.read_bytes()
        mac, _, body = raw.partition(b"\n")
        if not hmac.compare_digest(mac, hmac.new(key, body, "sha256").hexdigest().encode()):
            return {}
        # authenticated: written by this user's engine (the key never leaves their cache)
        entries = marshal.loads(body)  # noqa: S302
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    return entries if isinstance(entries, dict) else {}


_shared: dict[Path, ParseCache] = {}


def for_root(root: Path) -> ParseCache:
    """The process's cache for the repository at ``root`` (read from disk once)."""
    root = root.resolve()
    if root not in _shared:
        _shared[root] = ParseCache(root)
    return _shared[root]


__all__ = ["FORMAT", "ParseCache", "blob_id", "code_key", "for_root", "mac_key", "parser_key"]
