"""scikit-learn's parameter constraints as plain JSON, and checking YAML values against them.

Every scikit-learn estimator declares ``_parameter_constraints``: for each constructor
parameter, a list of constraints of which a valid value satisfies at least one
(``Interval(Integral, 1, None, closed="left")``, ``StrOptions({"gini", "entropy"})``,
``None``, ``"boolean"``...). ``engine.definitions.catalog_build.serialize`` turns one into a tagged
JSON object when the catalog is built; ``satisfies`` and ``describe`` read it back without
scikit-learn:

    {"interval": {"type": "int", "left": 1, "right": null, "closed": "left"}}
    {"options": ["entropy", "gini"], "deprecated": []}
    {"none": true}   {"boolean": true}   {"verbose": true}   {"random_state": true}
    {"array_like": true}   {"cv_object": true}   {"nan": true}   {"missing_values": "numeric"}
    {"instance_of": "numbers.Integral"}   {"has_methods": ["fit", "predict"]}
    {"callable": true}   {"sparse_matrix": true}   {"any": true}

plus ``"hidden": true`` on constraints scikit-learn keeps out of its messages. Values come
from YAML (None, bool, int, float, str, list, dict); the checks mirror scikit-learn's
(a bool is an int, as in Python), except that a list stands for a tuple, which YAML lacks
(``engine.definitions.catalog.Catalog.prepare_params`` turns it into one for the constructor).
Anything that can't be serialized becomes ``{"any": true}`` and accepts every value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

Constraint = dict[str, Any]

JSON_SCALARS = (str, int, float, bool, type(None))
_NO_YAML = " (which YAML can't express)"


def _is_int(v: Any) -> bool:
    return isinstance(v, int)


def _is_real(v: Any) -> bool:
    return isinstance(v, int | float)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


_INSTANCE_TESTS = {
    "numbers.Integral": (_is_int, "an int"),
    "builtins.int": (_is_int, "an int"),
    "numbers.Real": (_is_real, "a number"),
    "numbers.Number": (_is_real, "a number"),
    "builtins.float": (lambda v: isinstance(v, float), "a float"),
    "sklearn.utils._param_validation.RealNotInt": (lambda v: isinstance(v, float), "a float"),
    "builtins.bool": (lambda v: isinstance(v, bool), "true or false"),
    "builtins.str": (lambda v: isinstance(v, str), "a string"),
    "builtins.dict": (lambda v: isinstance(v, dict), "a mapping"),
    "collections.abc.Mapping": (lambda v: isinstance(v, dict), "a mapping"),
    "collections.abc.MutableMapping": (lambda v: isinstance(v, dict), "a mapping"),
    "builtins.list": (lambda v: isinstance(v, list), "a list"),
    "builtins.tuple": (lambda v: isinstance(v, list | tuple), "a list (passed as a tuple)"),
    "builtins.type": (lambda v: False, "a Python type" + _NO_YAML),
    "collections.abc.Iterable": (
        lambda v: isinstance(v, list | tuple | dict | str),
        "an iterable",
    ),
}
_FLAG_TESTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "none": (lambda v: v is None, "null"),
    "nan": (_is_nan, ".nan"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
    "verbose": (lambda v: isinstance(v, int) and v >= 0, "an int >= 0 or a boolean"),
    "random_state": (
        lambda v: v is None or (isinstance(v, int) and 0 <= v <= 2**32 - 1),
        "an int in [0, 4294967295] or null",
    ),
    # scikit-learn's array-like is "has a length and is not a scalar": a list, or a mapping.
    "array_like": (lambda v: isinstance(v, list | tuple | dict), "a list"),
    "cv_object": (
        lambda v: (
            v is None or isinstance(v, list | tuple | dict) or (isinstance(v, int) and v >= 2)
        ),
        "an int >= 2, a list of splits or null",
    ),
    # Code and in-memory objects can't be written in YAML.
    "callable": (lambda v: False, "a callable" + _NO_YAML),
    "sparse_matrix": (lambda v: False, "a sparse matrix" + _NO_YAML),
    "any": (lambda v: True, "anything"),
}


def satisfies(constraint: Constraint, value: Any) -> bool:
    """Whether a YAML value satisfies one serialized constraint."""
    if "interval" in constraint:
        return _in_interval(constraint["interval"], value)
    if "options" in constraint:
        return isinstance(value, JSON_SCALARS) and any(
            value == o and isinstance(value, str) == isinstance(o, str)
            for o in constraint["options"]
        )
    if "instance_of" in constraint:
        name = constraint["instance_of"]
        if name in _INSTANCE_TESTS:
            return _INSTANCE_TESTS[name][0](value)
        # A plain-data type this table lacks: don't refuse. A library's class: YAML can't
        # produce one (numpy.ndarray, a kernel object), so no YAML value satisfies it.
        return name.startswith(("builtins.", "numbers.", "collections.abc."))
    if "missing_values" in constraint:
        numeric = isinstance(value, int | float)
        return numeric or (
            constraint["missing_values"] == "any" and (value is None or isinstance(value, str))
        )
    if "has_methods" in constraint:
        return False
    for flag, (accepts, _) in _FLAG_TESTS.items():
        if constraint.get(flag):
            return accepts(value)
    return True  # a tag this version doesn't know: never refuse on it


_NUMBER_TESTS: dict[str, Callable[[Any], bool]] = {
    "int": _is_int,
    "real": _is_real,
    "real_not_int": lambda v: isinstance(v, float),
}


def _in_interval(interval: dict[str, Any], value: Any) -> bool:
    if not _NUMBER_TESTS[interval["type"]](value) or _is_nan(value):
        return False
    # A missing bound is infinite, so an open end excludes .inf, as in scikit-learn.
    left = -math.inf if interval["left"] is None else interval["left"]
    right = math.inf if interval["right"] is None else interval["right"]
    closed = interval["closed"]
    above = value >= left if closed in ("left", "both") else value > left
    return above and (value <= right if closed in ("right", "both") else value < right)


def describe(checks: list[Constraint], value: Any = None) -> str:
    """What the constraints accept, in words (``an int in [1, inf) or null``).

    With a string ``value`` close to an allowed option, ends with a did-you-mean hint.
    """
    import difflib

    shown = [c for c in checks if not c.get("hidden")] or checks
    words = list(dict.fromkeys(_words(c) for c in shown))
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    if isinstance(value, str):
        options = [o for c in shown for o in c.get("options", ()) if isinstance(o, str)]
        close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
        if close:
            text += f"; did you mean {show(close[0])}?"
    return text


def _words(constraint: Constraint) -> str:
    if "interval" in constraint:
        iv = constraint["interval"]
        what = "an int" if iv["type"] == "int" else "a number"
        if iv["type"] == "real_not_int":
            what = "a float (with a decimal point)"
        left = "-inf" if iv["left"] is None else iv["left"]
        right = "inf" if iv["right"] is None else iv["right"]
        return (
            f"{what} in {'[' if iv['closed'] in ('left', 'both') else '('}{left}, "
            f"{right}{']' if iv['closed'] in ('right', 'both') else ')'}"
        )
    if "options" in constraint:
        deprecated = constraint.get("deprecated", [])
        return "one of " + ", ".join(
            show(o) + (" (deprecated)" if o in deprecated else "") for o in constraint["options"]
        )
    if "instance_of" in constraint:
        test = _INSTANCE_TESTS.get(constraint["instance_of"])
        return test[1] if test else f"a {constraint['instance_of']} object{_NO_YAML}"
    if "missing_values" in constraint:
        return "a number or .nan" + (
            "" if constraint["missing_values"] == "numeric" else ", a string or null"
        )
    if "has_methods" in constraint:
        return f"an object with {' and '.join(constraint['has_methods'])} methods{_NO_YAML}"
    return next(
        (words for flag, (_, words) in _FLAG_TESTS.items() if constraint.get(flag)), "anything"
    )


def deprecation(checks: list[Constraint], value: Any) -> Literal["option", "parameter"] | None:
    """Whether setting this value uses a deprecated option, or a deprecated parameter."""
    if isinstance(value, str) and any(value in c.get("deprecated", ()) for c in checks):
        return "option"
    # scikit-learn deprecates a parameter by defaulting it to a hidden "deprecated" marker.
    marked = any(c.get("hidden") and "deprecated" in c.get("options", ()) for c in checks)
    return "parameter" if marked and value != "deprecated" else None


def as_constructor_value(checks: list[Constraint], value: Any) -> Any:
    """The value to pass to the constructor: a list where only a tuple is accepted, a tuple."""
    if not isinstance(value, list):
        return value
    tuples = [c for c in checks if c.get("instance_of") == "builtins.tuple"]
    others = [c for c in checks if c.get("instance_of") != "builtins.tuple"]
    if tuples and not any(satisfies(c, value) for c in others):
        return tuple(value)
    return value


def show(value: Any) -> str:
    """A YAML value as the user wrote it (``null``, ``true``, ``'gini'``, ``-3``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    return repr(value)
