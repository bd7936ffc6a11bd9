"""The adapter protocol: how the conformance runner talks to an implementation.

An adapter is a small object that declares what it wraps and what it can do
(:class:`Capabilities`) and evaluates one spec case at a time
(:meth:`Adapter.evaluate`), returning NumPy arrays. The runner never imports a
framework itself: everything framework-specific (input conversion, the call,
the mapping of the framework's exceptions to the spec's error categories)
lives in the adapter, so a port of the Keras losses plugs in by writing one
class. ``adapters/README.md`` is the user-facing description of this module.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "CaseError", "ErrorRule", "DEFAULT_ERROR_RULES", "Capabilities", "Result", "Adapter",
    "classify_exception", "as_result", "exact_array_literal", "config_round_trip", "missing_modules",
    "case_copy", "non_numeric",
]

ERROR_CATEGORIES = ("invalid_label", "invalid_shape", "invalid_argument", "invalid_value")


class CaseError(Exception):
    """An error an adapter raises on purpose, already classified in a spec error category.

    Raise it from :meth:`Adapter.evaluate` when the wrapped implementation
    rejected the call and you know why: ``CaseError("invalid_label", str(exc))``.
    """

    def __init__(self, category: str, message: str = "") -> None:
        if category not in ERROR_CATEGORIES:
            raise ValueError(f"unknown error category {category!r}; known: {', '.join(ERROR_CATEGORIES)}")
        super().__init__(message or category)
        self.category = category
        self.message = message or category


@dataclass(frozen=True)
class ErrorRule:
    """One line of an adapter's exception -> error category table.

    A rule matches an exception when the exception is an instance of
    ``exc_type`` (a class, or a qualified class name such as
    ``"tensorflow.errors.InvalidArgumentError"``, compared along the MRO) and,
    when ``pattern`` is set, the regular expression is found (case-insensitive)
    in ``str(exc)``. The first matching rule wins.
    """

    category: str
    exc_type: type | tuple[type, ...] | str = Exception
    pattern: str | None = None

    def matches(self, exc: BaseException) -> bool:
        """Whether this rule applies to ``exc``."""
        if isinstance(self.exc_type, str):
            names = {f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__}
            names |= {c.__qualname__ for c in type(exc).__mro__}
            if self.exc_type not in names:
                return False
        elif not isinstance(exc, self.exc_type):
            return False
        return self.pattern is None or re.search(self.pattern, str(exc), re.IGNORECASE) is not None


# Applied after an adapter's own rules: the wording most frameworks use.
DEFAULT_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule("invalid_argument", TypeError, r"unexpected keyword|positional argument|takes no"),
    ErrorRule("invalid_label", (ValueError, IndexError, TypeError),
              r"\blabels?\b|class (index|id)|\btargets?\b|out of (range|bounds)"),
    ErrorRule("invalid_shape", (ValueError, TypeError), r"shape|rank|dimension|broadcast|incompatible"),
    ErrorRule("invalid_argument", (ValueError, TypeError, NotImplementedError),
              r"reduction|argument|axis|unsupported|not supported|invalid|unknown"),
    ErrorRule("invalid_value", (ValueError, FloatingPointError), r"\bnan\b|\binf\b|finite|value"),
)


def classify_exception(exc: BaseException, rules: Sequence[ErrorRule] = ()) -> str | None:
    """The spec error category of an exception raised by an adapter, or None if unclassified.

    The documented rule: a :class:`CaseError` carries its category; otherwise
    the adapter's ``error_rules`` are tried in order, then
    :data:`DEFAULT_ERROR_RULES`; the first match gives the category. An
    exception no rule matches is *unclassified*: it fails a case that expects
    an error as surely as one that expects a value.
    """
    if isinstance(exc, CaseError):
        return exc.category
    for rule in tuple(rules) + DEFAULT_ERROR_RULES:
        if rule.matches(exc):
            return rule.category
    return None


@dataclass(frozen=True)
class Capabilities:
    """What an adapter declares it can run; anything else is skipped, naming the capability.

    ``params`` names the optional features a case may use: ``from_logits``,
    ``label_smoothing``, ``ignore_class``, ``axis`` (a class axis other than
    -1), ``sample_weight``, ``dtype`` (a loss/metric ``dtype=`` argument),
    ``name`` and ``float_labels`` (sparse labels given as floats).
    ``profiles`` lists the profiles the adapter can be judged under (empty: only
    its own ``profile``). ``notes`` says why a capability is missing where the
    adapter knows (``{"dtype bfloat16": "ml_dtypes is not installed"}``): the
    skip reason carries it.
    """

    dtypes: frozenset[str] = frozenset({"float16", "bfloat16", "float32", "float64"})
    forms: frozenset[str] = frozenset({"function", "loss", "metric", "config"})
    losses: frozenset[str] = frozenset({"sparse_categorical_crossentropy", "categorical_crossentropy",
                                        "binary_crossentropy"})
    params: frozenset[str] = frozenset({"from_logits", "label_smoothing", "ignore_class", "axis",
                                        "sample_weight", "dtype", "name", "float_labels"})
    reductions: frozenset[str] = frozenset({"sum_over_batch_size", "sum", "none", "mean",
                                            "mean_with_sample_weight", "auto"})
    profiles: frozenset[str] = frozenset()
    notes: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self, profile: str | None = None) -> dict[str, list[str]]:
        """The capabilities as sorted lists (the report's ``adapters.NAME.capabilities``); ``profiles``
        includes ``profile``, the adapter's own, when given."""
        profiles = set(self.profiles) | ({profile} if profile else set())
        return {"dtypes": sorted(self.dtypes), "forms": sorted(self.forms), "losses": sorted(self.losses),
                "params": sorted(self.params), "reductions": sorted(self.reductions), "profiles": sorted(profiles)}

    def missing(self, case: Any, profile: str | None = None) -> str | None:
        """The first capability ``case`` needs that is not declared, as ``"kind X"``, or None."""
        if case.loss not in self.losses:
            return f"loss {case.loss}"
        if case.form not in self.forms:
            return f"form {case.form}"
        if case.dtype not in self.dtypes:
            return f"dtype {case.dtype}"
        pdt = case.params.get("dtype")
        if pdt and pdt not in self.dtypes:
            return f"dtype {pdt}"
        for name in features_of(case):
            if name not in self.params:
                return f"parameter {name}"
        red = case.params.get("reduction")
        if red is not None and case.form in ("loss", "config") and red not in self.reductions:
            return f"reduction {red}"
        return None


def features_of(case: Any) -> list[str]:
    """The optional features a case uses (names of :attr:`Capabilities.params`), in a stable order."""
    p = case.params
    out = []
    if p.get("from_logits"):
        out.append("from_logits")
    if p.get("label_smoothing"):
        out.append("label_smoothing")
    if p.get("ignore_class") is not None:
        out.append("ignore_class")
    if "axis" in p and p["axis"] != -1:
        out.append("axis")
    inputs = [case.inputs] if case.inputs is not None else [s.inputs for s in case.steps or () if s.inputs]
    if any(i is not None and i.sample_weight is not None for i in inputs):
        out.append("sample_weight")
    if p.get("dtype"):
        out.append("dtype")
    if p.get("name"):
        out.append("name")
    if case.sparse and case.label_dtype in ("float16", "bfloat16", "float32", "float64"):
        out.append("float_labels")
    return out


@dataclass
class Result:
    """What :meth:`Adapter.evaluate` returns (plain arrays are accepted too, see :func:`as_result`).

    ``value``: for ``function`` and ``loss`` cases one array (the result as the
    framework returns it, converted to NumPy without changing its dtype); for
    ``metric`` cases a list with one array per ``result`` step; for ``config``
    cases the value of the reconstructed object on the case's inputs, or None.
    ``dtype``: the framework's result dtype when the array cannot carry it
    (bfloat16 returned as a float32 array holding bfloat16 values); None means
    the array's own dtype is the answer. ``config`` / ``config_roundtrip``: for
    ``config`` cases, ``get_config()`` of the constructed object and of the
    object rebuilt by ``from_config`` from it.
    """

    value: Any = None
    dtype: str | None = None
    config: Mapping[str, Any] | None = None
    config_roundtrip: Mapping[str, Any] | None = None


def as_result(out: Any, form: str) -> Result:
    """Normalise what an adapter returned into a :class:`Result` of NumPy arrays."""
    if not isinstance(out, Result):
        if form == "config" and isinstance(out, Mapping):
            out = Result(value=out.get("value"), config=out.get("config"),
                         config_roundtrip=out.get("config_roundtrip"))
        else:
            out = Result(value=out)
    if form == "metric":
        vals = out.value if isinstance(out.value, (list, tuple)) else [out.value]
        out.value = [_to_numpy(v) for v in vals]
    elif out.value is not None:
        out.value = _to_numpy(out.value)
    return out


def case_copy(case: Any) -> Any:
    """A copy of a case whose arrays, params and config the adapter may change freely.

    The runner hands adapters copies: what an adapter writes into its inputs
    must not reach the case the suite keeps (its repro, the next adapter).
    """
    import copy
    import dataclasses

    def inputs(i: Any) -> Any:
        if i is None:
            return None
        return dataclasses.replace(i, y_true=np.array(i.y_true, copy=True), y_pred=np.array(i.y_pred, copy=True),
                                   sample_weight=None if i.sample_weight is None
                                   else np.array(i.sample_weight, copy=True))

    if not dataclasses.is_dataclass(case):
        return copy.deepcopy(case)
    return dataclasses.replace(
        case, params=copy.deepcopy(dict(case.params)), inputs=inputs(case.inputs),
        steps=None if case.steps is None else tuple(dataclasses.replace(s, inputs=inputs(s.inputs))
                                                     for s in case.steps),
        config=copy.deepcopy(case.config))


def non_numeric(value: Any) -> str | None:
    """Why an adapter's result value is not a number array (a description of it), or None if it is."""
    arrays = value if isinstance(value, (list, tuple)) else [value]
    for a in arrays:
        dt = getattr(a, "dtype", None)
        if dt is None:
            return f"a {type(a).__name__}"
        if dt.kind in "fiub" or dt.name == "bfloat16":
            continue
        if dt.kind in "US":
            first = np.asarray(a).reshape(-1)[:1]
            return f"a str {str(first[0])[:40]!r}" if np.ndim(a) == 0 else "an array of str"
        if dt.kind == "O" and np.ndim(a) == 0:
            return f"a {type(a.item()).__name__}"
        if dt.kind == "O":
            kinds = sorted({type(x).__name__ for x in np.asarray(a).reshape(-1)[:10]})
            return f"an object array of {', '.join(kinds)}"
        return f"an array of dtype {dt}"
    return None


def _to_numpy(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v
    if hasattr(v, "numpy") and callable(v.numpy):  # eager tensors
        try:
            return np.asarray(v.numpy())
        except Exception:  # pragma: no cover - framework specific
            pass
    if hasattr(v, "detach"):  # torch
        return np.asarray(v.detach().cpu().numpy())
    return np.asarray(v)


class Adapter:
    """Base class of adapters: subclass it, set the class attributes, implement :meth:`evaluate`.

    Attributes every adapter declares:

    ``name``        short name used in test ids and reports ("numpy", "keras-jax", ...).
    ``wraps``       what it wraps (distribution or module name).
    ``version``     the version of what it wraps.
    ``profile``     the spec profile it claims to implement (the default of ``--profile``); an
                    adapter of a real framework names its installed release's profile
                    (``keras3-torch@3.8``, :func:`xentspec.spec.profiles.profile_for_release`)
                    and says why in ``profile_reason``.
    ``capabilities`` a :class:`Capabilities`.
    ``error_rules`` extra :class:`ErrorRule` lines, tried before the defaults.
    ``isolate``     True (the default) to run every case in a worker subprocess that
                    may crash or hang without taking the run with it; an adapter whose
                    code is known not to crash may say False to save the process hop.
    ``timeout``     seconds a case may take in a worker before it is killed.
    ``flushes_subnormals`` True (or a value of the profile choice ``subnormals``, e.g.
                    ``"flushed_all"``) when the framework's arithmetic flushes subnormals
                    (XLA and TensorFlow on the CPU) although the adapter's profile does not
                    say so: drawn examples with subnormal inputs are then not judged.
    ``compiles_per_shape`` True when the framework compiles a program per input shape (XLA):
                    the property tests then draw from a few shape buckets, as they do
                    for isolated adapters (their examples are fixed by this flag and
                    the seed, never by the environment).

    Optional, for ``xentspec adapters`` (the listing of available adapters):

    ``requires``    top-level module names the adapter needs (``("keras", "tensorflow")``);
                    they are checked with ``importlib.util.find_spec``, which locates a
                    module without importing it. Empty: nothing to check.
    ``install``     the command that installs what the adapter needs, shown when a
                    required module is missing (``pip install "xentspec[keras,tensorflow]"``).

    :meth:`unavailable` turns a missing module into the reason the runner skips
    the adapter's cases with (and ``xentspec run`` prints); override it for
    other conditions.
    """

    name: str = "adapter"
    wraps: str = "?"
    version: str = "?"
    profile: str = "keras3"
    capabilities: Capabilities = Capabilities()
    error_rules: Sequence[ErrorRule] = ()
    isolate: bool = True
    timeout: float = 60.0
    requires: Sequence[str] = ()
    install: str = ""

    def frameworks(self) -> dict[str, str]:
        """Versions of the packages the results depend on, for the report (``{"numpy": "2.1.0"}``)."""
        return {"numpy": np.__version__}

    def unavailable(self) -> str | None:
        """Why the adapter cannot run here (a module of ``requires`` is missing), with the install command; or None."""
        missing = missing_modules(self)
        if not missing:
            return None
        verb = "is" if len(missing) == 1 else "are"
        hint = f" (install it with: {self.install})" if self.install else ""
        return f"{' and '.join(missing)} {verb} not installed{hint}"

    def evaluate(self, case: Any, profile: str) -> Result | Any:
        """Evaluate ``case`` (a :class:`xentspec.spec.Case`) under ``profile``.

        Return a :class:`Result` (or a bare array / list of arrays) or raise.
        Inputs in ``case`` are float64 arrays of exact case-dtype values and
        int64 sparse labels: convert them to the framework's types of
        ``case.dtype`` (``case.label_dtype`` for labels). Do not convert the
        result's dtype: it is judged.
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The adapter's report entry (with ``profile_reason`` when the adapter says why its profile)."""
        d = {"name": self.name, "wraps": self.wraps, "version": str(self.version),
             "profile": self.profile, "frameworks": dict(self.frameworks())}
        reason = getattr(self, "profile_reason", None)
        if reason:
            d["profile_reason"] = str(reason)
        return d

    def repro(self, case: Any, profile: str, spec: str | None = None) -> str:
        """A self-contained Python snippet that reproduces ``case`` on this adapter.

        The default rebuilds the case in place with its exact hex input values
        and calls :meth:`evaluate`; adapters may override it to show the bare
        framework call instead. ``spec`` is how the adapter was loaded.
        """
        return default_repro(case, profile, spec or self.name)


def missing_modules(adapter: Any) -> list[str]:
    """The modules of ``adapter.requires`` that cannot be found here (located, never imported)."""
    out = []
    for name in getattr(adapter, "requires", ()) or ():
        try:
            found = importlib.util.find_spec(name.split(".")[0]) is not None
        except (ImportError, ValueError):  # a broken parent package, or an odd __spec__
            found = False
        if not found:
            out.append(name)
    return out


def config_round_trip(cls: Any, params: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any], Mapping[str, Any]]:
    """Build ``cls(**params)``, rebuild it with ``from_config(get_config())``: (rebuilt, config, rebuilt's config).

    ``from_config`` gets a deep copy: tf-keras's ``LossFunctionWrapper.from_config``
    pops ``fn`` out of the dict it is given, which would make the original
    config look changed by the round trip.
    """
    cfg = cls(**params).get_config()
    rebuilt = cls.from_config(copy.deepcopy(cfg))
    return rebuilt, dict(cfg), dict(rebuilt.get_config())


def exact_array_literal(a: np.ndarray) -> str:
    """Python source for an array holding exactly ``a`` (floats written as hex)."""
    a = np.asarray(a)
    if a.dtype.kind in "iub":
        body = repr(a.reshape(-1).tolist())
        return f"np.array({body}, dtype=np.{a.dtype}).reshape({tuple(a.shape)!r})"
    flat = " ".join(float(x).hex() for x in a.astype(np.float64).reshape(-1))
    return f"_hex({flat!r}, {tuple(a.shape)!r})"


def _inputs_literal(inp: Any) -> str:
    sw = exact_array_literal(inp.sample_weight) if inp.sample_weight is not None else "None"
    return (f"Inputs(y_true={exact_array_literal(inp.y_true)},\n"
            f"       y_pred={exact_array_literal(inp.y_pred)},\n"
            f"       sample_weight={sw})")


def default_repro(case: Any, profile: str, spec: str) -> str:
    """The generic repro snippet of :meth:`Adapter.repro`."""
    steps = "None"
    if case.steps is not None:
        parts = []
        for s in case.steps:
            if s.kind == "update":
                parts.append(f"Step('update', {_inputs_literal(s.inputs)})")
            else:
                parts.append(f"Step({s.kind!r})")
        steps = "(" + ",\n ".join(parts) + ",)"
    inputs = _inputs_literal(case.inputs) if case.inputs is not None else "None"
    return textwrap.dedent("""\
        # Reproduce xentspec case {cid!r} on adapter {spec!r} (profile {profile}).
        import numpy as np
        from xentspec.adapters import load_adapter
        from xentspec.spec.case import Case, Inputs, Step

        def _hex(text, shape):
            return np.array([float.fromhex(h) for h in text.split()], dtype=np.float64).reshape(shape)

        """).format(cid=case.id, spec=spec, profile=profile) + (
        f"case = Case(id={case.id!r}, loss={case.loss!r}, form={case.form!r}, dtype={case.dtype!r},\n"
        f"            params={dict(case.params)!r}, profiles={tuple(case.profiles)!r},\n"
        f"            label_dtype={case.label_dtype!r}, config={_plain(case.config)!r},\n"
        f"            inputs={inputs},\n"
        f"            steps={steps})\n"
        f"adapter = load_adapter({spec!r})\n"
        f"print(adapter.evaluate(case, {profile!r}))\n")


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def iter_inputs(case: Any) -> Iterable[Any]:
    """Every :class:`~xentspec.spec.case.Inputs` of a case (its inputs or its update steps)."""
    if case.inputs is not None:
        yield case.inputs
    for s in case.steps or ():
        if s.inputs is not None:
            yield s.inputs
