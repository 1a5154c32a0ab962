"""Safe, located YAML: parse a definition file into plain values plus a map of positions.

Definitions are small, written by people and reviewed in pull requests, so this loader
is strict where PyYAML is lenient: a size cap, UTF-8 only, no anchors or aliases (the
"billion laughs" expansion is refused at the first repeated node, before any copy is
made), no custom tags, no duplicate keys. Every value keeps the line and column of its
YAML node so that later checks (schema, cross-references, data) can point at it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.definitions.yamlfast import Unusual, read
from engine.errors import Problem

if TYPE_CHECKING:
    import yaml

MAX_BYTES = 1024 * 1024
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
# YAML 1.1 reads 1e-4 as a string; people mean a number (YAML 1.2 agrees with them).
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_Loader: Any = None
_PlainLoader: Any = None
_constructor: Any = None
_resolver: Any = None
_CONSTRUCT: dict[str, Any] = {}


def _ready() -> None:
    """Import PyYAML and build the loaders, on the first parse: a run whose definitions
    all come from the parse cache (a review of stored versions) never imports PyYAML."""
    global yaml, _Loader, _PlainLoader, _constructor, _resolver
    if _PlainLoader is not None:
        return
    import yaml

    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _constructor = yaml.constructor.SafeConstructor()
    _resolver = yaml.resolver.Resolver()  # the safe loaders' implicit resolvers
    _CONSTRUCT.update(
        {tag: yaml.constructor.SafeConstructor.yaml_constructors[tag] for tag in _SCALAR_TAGS}
    )
    _PlainLoader = _plain_loader(_Loader)


Path = tuple[str | int, ...]


@dataclass
class Located:
    """A parsed YAML document: the plain ``value`` and where each part of it was written."""

    path: str
    value: Any
    text: str = ""
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    located: bool = True
    """False for a document from the parse cache: positions are recovered from ``text``
    by the located parse the first time a problem needs one (most documents never do)."""
    source: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    """Where the bytes are when ``text`` was not kept (a cached document read lazily)."""

    def where(self, loc: Path, *, key: bool = False) -> tuple[int, int]:
        """The (line, col) of the node at ``loc``, or of its nearest located ancestor."""
        if not self.located:
            data = self.source() if self.source is not None else self.text.encode("utf-8")
            again = parse(data, self.path)
            self.text = again.text
            self.values, self.keys, self.located = again.values, again.keys, True
        table = self.keys if key else self.values
        probe = tuple(loc)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, loc: Path, message: str, *, key: bool = False, rule: str = "") -> Problem:
        """A problem located at the node ``loc`` of this document."""
        line, col = self.where(loc, key=key)
        return Problem(self.path, line, col, message, rule=rule)


class YamlProblem(Exception):
    """Raised by :func:`parse` with the located problem that stopped it."""

    def __init__(self, problem: Problem):
        super().__init__(problem.render())
        self.problem = problem


def parse(data: bytes, path: str) -> Located:
    """Parse one YAML document from ``data``; raise :class:`YamlProblem` when it can't."""
    _ready()
    if len(data) > MAX_BYTES:
        raise YamlProblem(
            Problem(
                path,
                1,
                1,
                f"file is {len(data):,} bytes; definitions are limited to "
                f"{MAX_BYTES:,} bytes (1 MiB): split it or move data out of it",
                rule="size",
            )
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlProblem(
            Problem(
                path,
                line,
                col,
                f"not valid UTF-8 (byte 0x{data[exc.start]:02x}): save the file as UTF-8",
                rule="encoding",
            )
        ) from None
    if not text.strip() or _only_comments(text):
        raise YamlProblem(
            Problem(
                path, 1, 1, "file is empty: write a definition or delete the file", rule="empty"
            )
        )
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(
            Problem(path, line, col, f"invalid YAML: {reason}", rule="syntax")
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(path, 1, 1, f"invalid YAML: {exc}", rule="syntax")) from None
    nodes = [n for n in nodes if n is not None and not _is_null(n)]
    if not nodes:
        raise YamlProblem(
            Problem(
                path, 1, 1, "file is empty: write a definition or delete the file", rule="empty"
            )
        )
    if len(nodes) > 1:
        raise _at(
            path,
            nodes[1].start_mark,
            "more than one YAML document: keep one definition per file",
            rule="syntax",
        )
    doc = Located(path, None, text=text)
    doc.value = _convert(nodes[0], (), doc, set())
    return doc


def parse_value(data: bytes, path: str) -> Located:
    """:func:`parse` without positions: the same value, or the same :class:`YamlProblem`.

    A file in the plain YAML definitions are written in is read by
    :func:`engine.definitions.yamlfast.read`, about five times as fast as PyYAML; one
    that needs more of YAML (still one plain document: no anchors, tags, duplicate or
    complex keys) is built straight from the C composer's nodes, about twice as fast as
    the located walk; anything else, and every file :func:`parse` would refuse, goes
    through :func:`parse` itself, so its value and its problem are the located loader's
    by construction. Positions are recovered by the located parse the first time a
    problem needs one (:attr:`Located.located`).
    """
    _ready()
    if len(data) <= MAX_BYTES and b"&" not in data:  # no anchor, so no alias
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return parse(data, path)
        try:
            return Located(path, read(text, _plain_scalar), located=False, source=lambda: data)
        except Unusual:
            pass
        first = text.lstrip()[:1]
        if first and not (first == "#" and _only_comments(text)):
            try:
                loader = _PlainLoader(text)
                try:
                    node = loader.get_single_node()
                finally:
                    loader.dispose()
                if node is not None and not _is_null(node):
                    value = _plain(node)
                    return Located(path, value, located=False, source=lambda: data)
            except (_Unusual, yaml.YAMLError, RecursionError):
                pass
    return parse(data, path)


def _plain_scalar(text: str) -> Any:
    """The value of the plain scalar ``text`` (one line, trimmed) as :func:`_plain` reads
    it, remembered by text: what tag PyYAML's resolver gives it, then that tag's
    constructor; :class:`Unusual` for a tag a definition may not hold (a timestamp)."""
    value = _PLAIN_VALUES.get(text, _UNKNOWN)
    if value is _UNKNOWN:
        tag = _resolver.resolve(yaml.ScalarNode, text, (True, False))
        if tag == _STR:
            value = float(text) if _EXPONENT.match(text) else text
        else:
            construct = _CONSTRUCT.get(tag)
            if construct is None:
                raise Unusual
            try:
                value = construct(_constructor, yaml.ScalarNode(tag, text))
            except (ValueError, KeyError, IndexError):
                raise Unusual from None
        if len(_PLAIN_VALUES) < _MAX_TAGS:
            _PLAIN_VALUES[text] = value
    return value


_PLAIN_VALUES: dict[str, Any] = {}
_UNKNOWN: Any = object()


def _plain_loader(base: Any) -> Any:
    class PlainLoader(base):  # type: ignore[misc]
        """The C loader, its Python resolver's answers remembered.

        Without path resolvers (the safe loader has none) a node's tag depends only on
        its kind, its text and how it was written (``implicit``): ``name``, ``params`` or
        ``0.25`` resolve once per process instead of once per node (the resolver's
        regular expressions are most of a plain parse's Python time).
        """

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if self.yaml_path_resolvers:  # (none, unless someone adds one to this loader)
                return str(super().resolve(kind, value, implicit))
            key = (kind, value, implicit)
            tag = _TAGS.get(key)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))
                if len(_TAGS) < _MAX_TAGS:
                    _TAGS[key] = tag
            return tag

    return PlainLoader


_TAGS: dict[tuple[Any, Any, Any], str] = {}
_MAX_TAGS = 100_000


class _Unusual(Exception):
    """Something :func:`_plain` leaves to the located parse (which accepts or refuses it)."""


def _plain(node: Any) -> Any:
    """The value :func:`_convert` gives for ``node`` (a composed node), or :class:`_Unusual`."""
    kind = node.__class__
    if kind is yaml.ScalarNode:
        tag = node.tag
        if tag == _STR:
            return (
                float(node.value) if not node.style and _EXPONENT.match(node.value) else node.value
            )
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            raise _Unusual
        try:
            return construct(_constructor, node)
        except (ValueError, KeyError, IndexError):
            raise _Unusual from None  # !!int x: the located parse refuses it
    if kind is yaml.MappingNode and node.tag == _MAP:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                raise _Unusual
            if key_node.tag == _STR and (key_node.style or not _EXPONENT.match(key_node.value)):
                key = key_node.value
            else:
                key = str(_plain(key_node))  # 1: or yes: as _convert reads them; <<: raises
            if key in out:
                raise _Unusual  # a duplicate key: the located parse says where
            out[key] = _plain(value_node)
        return out
    if kind is yaml.SequenceNode and node.tag == _SEQ:
        return [_plain(item) for item in node.value]
    raise _Unusual


def _at(path: str, mark: yaml.Mark, message: str, *, rule: str) -> YamlProblem:
    """The problem ``message`` at ``mark`` (0-based in PyYAML, 1-based for people)."""
    return YamlProblem(Problem(path, mark.line + 1, mark.column + 1, message, rule=rule))


def _tag_not_allowed(doc: Located, node: yaml.Node) -> YamlProblem:
    message = f"YAML tag {node.tag!r} is not allowed: use a plain value"
    return _at(doc.path, node.start_mark, message, rule="tag")


def _only_comments(text: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())


def _convert(node: yaml.Node, loc: Path, doc: Located, seen: set[int]) -> Any:
    mark = node.start_mark
    here = (mark.line + 1, mark.column + 1)
    if id(node) in seen:
        line, col = _first_alias(doc) or here
        raise YamlProblem(
            Problem(
                doc.path,
                line,
                col,
                "YAML aliases are not allowed in definitions: write the value out",
                rule="alias",
            )
        )
    seen.add(id(node))
    doc.values[loc] = here
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
        raise _tag_not_allowed(doc, node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                raise _at(
                    doc.path,
                    key_node.start_mark,
                    "keys must be plain strings (no merge keys or complex keys)",
                    rule="syntax",
                )
            key = str(_scalar(key_node, doc))
            k = key_node.start_mark
            if key in out:
                raise _at(doc.path, k, f"duplicate key {key!r}: keep one", rule="duplicate-key")
            doc.keys[(*loc, key)] = (k.line + 1, k.column + 1)
            out[key] = _convert(value_node, (*loc, key), doc, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), doc, seen) for i, item in enumerate(node.value)]
    return _scalar(node, doc)


def _first_alias(doc: Located) -> tuple[int, int] | None:
    # Composing shares aliased nodes, so the alias's own position needs the event stream.
    for event in yaml.parse(doc.text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
            return event.start_mark.line + 1, event.start_mark.column + 1
    return None


def _scalar(node: yaml.Node, doc: Located) -> Any:
    if node.tag not in _SCALAR_TAGS:
        raise _tag_not_allowed(doc, node)
    plain = not getattr(node, "style", None)
    if node.tag == "tag:yaml.org,2002:str" and plain and _EXPONENT.match(node.value):
        return float(node.value)
    try:  # what construct_object does for a scalar, without its table of every node it built
        return _CONSTRUCT[node.tag](_constructor, node)
    except (ValueError, KeyError, IndexError):  # an explicit tag on a value it can't read
        message = (
            f"YAML tag {node.tag!r} does not fit the value {node.value!r}: write the plain value"
        )
        raise _at(doc.path, node.start_mark, message, rule="tag") from None


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"
