"""Load, validate and convert case files into :class:`~xentspec.spec.case.Case` objects.

Validation runs in two layers: the JSON Schema (``case.schema.json``) checks
the shape of each case, then the checks here do what a schema cannot: arrays
are rectangular and numeric, labels are integers where they must be, ids are
unique across every file, profiles exist, shapes of y_true and y_pred agree.
Every failure is a :class:`SpecError` naming file, line, case id and field.
"""

from __future__ import annotations

import functools
import json
import math
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema
import numpy as np

from .case import Case, Documented, Expect, Inputs, SourceRef, Step, Tolerance
from .errors import SpecError, kind_of
from .floats import get_format, parse_number, round_fraction
from .profiles import get_profile, load_profiles, selector_error
from .yamlio import MAX_FILE_BYTES, LineDict, line_of, load_yaml

__all__ = ["builtin_case_files", "load_file", "load_cases", "compute_dtype", "case_schema"]


@functools.lru_cache(maxsize=None)
def case_schema() -> dict:
    """The JSON Schema of a case file."""
    text = resources.files(__package__).joinpath("case.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _is_number(checker: Any, value: Any) -> bool:
    return isinstance(value, (int, float, Fraction)) and not isinstance(value, bool)


@functools.lru_cache(maxsize=None)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(case_schema())
    checker = cls.TYPE_CHECKER.redefine("number", _is_number)
    return jsonschema.validators.extend(cls, type_checker=checker)(case_schema())


def builtin_case_files() -> list[Path]:
    """The case files that ship with xentspec, in a stable order."""
    root = resources.files(__package__).joinpath("cases")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith((".yaml", ".yml")))


def compute_dtype(case: Case, profile: str | None = None) -> str:
    """The dtype the call returns in under Keras's rules (:func:`xentspec.spec.dtypes.call_dtypes`).

    A loss function keeps y_pred's dtype. Loss and metric classes convert to
    their own dtype: ``params.dtype`` when the case sets it, else the profile's
    floatx (float32), except that under ``loss_class_dtype: y_pred`` (tf-keras)
    a Loss class computes in y_pred's dtype; the profile's dtype choices (64-bit
    demotion on the non-TensorFlow backends) may change either.
    """
    from .dtypes import call_dtypes

    return call_dtypes(case, profile).output


# --------------------------------------------------------------------------- arrays

def _schema_path(err: jsonschema.ValidationError) -> tuple:
    return tuple(err.absolute_path)


def _describe(err: jsonschema.ValidationError) -> tuple[str, tuple]:
    """A readable message and the field path of the most specific schema error."""
    best = jsonschema.exceptions.best_match([err])
    path = tuple(best.absolute_path)
    msg = best.message
    if best.validator == "additionalProperties" and isinstance(best.instance, dict):
        allowed = set(best.schema.get("properties", {}))
        extra = sorted(str(k) for k in best.instance if k not in allowed)
        path = path + (extra[0],)
        msg = f"unknown key {extra[0]!r}; allowed here: {', '.join(sorted(allowed))}"
    elif best.validator == "required":
        msg = f"{best.message} (missing)"
    elif best.validator in ("anyOf", "oneOf") and isinstance(best.instance, list) and _bad_item(best.instance):
        bad = _bad_item(best.instance)
        msg = (f"{_shown(bad)} is not a number (write a decimal, a hex float such as \"0x1.8p-3\", or "
               "\"nan\", \"inf\", \"-inf\")") if not isinstance(bad, (list, dict)) else \
            f"{_shown(bad)} is a {kind_of(bad)} inside an array of numbers"
    elif best.validator in ("anyOf", "oneOf"):
        msg = f"{_shown(best.instance)} is not valid here ({best.schema.get('description', 'see case.schema.json')})"
    elif best.validator == "enum":
        msg = f"{best.instance!r} is not one of {', '.join(map(repr, best.validator_value))}"
    elif best.validator == "type":
        want = best.validator_value if isinstance(best.validator_value, list) else [best.validator_value]
        words = {"object": "mapping", "array": "list", "string": "string", "number": "number",
                 "integer": "integer", "boolean": "boolean", "null": "null"}
        msg = (f"{_shown(best.instance)} is a {kind_of(best.instance)}, expected "
               f"{' or '.join('a ' + words.get(w, w) for w in want)}")
    elif best.validator == "pattern":
        msg = f"{_shown(best.instance)} is {_PATTERN_WORDS.get(path[-1] if path else None, 'not in the expected form')}"
    return msg, path


_PATTERN_WORDS = {
    "id": "not a valid id: an id is letters, digits and _ . + = / -, starting with a letter or digit",
}


def _bad_item(value: Any) -> Any:
    """The first item of a nested list that is not a number (a numeric string counts as a number)."""
    for v in value:
        if isinstance(v, list):
            bad = _bad_item(v)
            if bad is not None:
                return bad
            continue
        if isinstance(v, bool) or v is None or isinstance(v, dict):
            return v
        if isinstance(v, str):
            try:
                parse_number(v)
            except ValueError:
                return v
    return None


def _shown(value: Any) -> str:
    """A value for a message, shortened."""
    text = repr(_plain(value))
    return text if len(text) <= 60 else text[:57] + "..."


class _Ctx:
    """Where we are while converting one case: for error messages."""

    def __init__(self, file: str, raw: LineDict, case_id: str | None, base: tuple = ()) -> None:
        self.file, self.raw, self.case_id, self.base = file, raw, case_id, base

    def error(self, message: str, path: tuple) -> SpecError:
        full = self.base + path
        field = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in full).replace(".[", "[")
        return SpecError(message, file=self.file, line=line_of(self.raw, path), case_id=self.case_id,
                         field=field or None)


def _shape_of(value: Any, path: tuple, ctx: _Ctx) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    shapes = [_shape_of(v, path + (i,), ctx) for i, v in enumerate(value)]
    for i, s in enumerate(shapes):
        if s != shapes[0]:
            raise ctx.error(f"ragged array: item {i} has shape {list(s)} but item 0 has {list(shapes[0])}",
                            path)
    return (len(value),) + shapes[0]


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        for v in value:
            yield from _flatten(v)
    else:
        yield value


MAX_GENERATED = 5_000_000
"""Most elements of a generated array (and the longest axis of its shape)."""


def _generate(spec: Mapping, fmt_name: str | None, path: tuple, ctx: _Ctx) -> tuple[list, tuple]:
    shape = tuple(spec["shape"])
    for i, d in enumerate(shape):
        if d > MAX_GENERATED:
            raise ctx.error(f"axis {i} of the shape has length {d:,}; a generated axis has at most "
                            f"{MAX_GENERATED:,}", path + ("shape", i))
    n = math.prod(shape)
    if n > MAX_GENERATED:
        raise ctx.error(f"generated array of {n:,} elements is too large (at most {MAX_GENERATED:,})", path)
    if "fill" in spec:
        return [spec["fill"]] * n, shape
    rng = np.random.Generator(np.random.PCG64(spec["seed"]))
    if "integers" in spec:
        lo, hi = spec["integers"]
        return [int(v) for v in rng.integers(lo, hi, size=n)], shape
    key = "uniform" if "uniform" in spec else "normal"
    a, b = (float(parse_number(v)) for v in spec[key])
    vals = rng.uniform(a, b, size=n) if key == "uniform" else rng.normal(a, b, size=n)
    return [float(v) for v in vals], shape


_NUMPY_FLOATS = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def _convert(value: Any, kind: str, fmt_name: str, path: tuple, ctx: _Ctx) -> np.ndarray:
    """Turn a nested list (or generator) into an exact array.

    kind: "float" (values rounded to fmt_name) or "int" (integers, exact).
    """
    if isinstance(value, dict):
        flat, shape = _generate(value, fmt_name, path, ctx)
        if kind == "float" and fmt_name in _NUMPY_FLOATS:
            # Generated values are float64 numbers: one IEEE conversion rounds them exactly.
            with np.errstate(over="ignore"):
                cast = np.asarray(flat, dtype=np.float64).astype(_NUMPY_FLOATS[fmt_name])
            return cast.astype(np.float64).reshape(shape)
    else:
        shape = _shape_of(value, path, ctx)
        flat = list(_flatten(value))
    if kind == "int":
        out = np.empty(len(flat), dtype=np.int64)
        for i, v in enumerate(flat):
            try:
                x = parse_number(v)
            except ValueError as exc:
                raise ctx.error(str(exc), path) from None
            if isinstance(x, float) or x.denominator != 1:
                raise ctx.error(
                    f"label {_show(v)} is not an integer: labels of a sparse case are integers "
                    "(set label_dtype to a float dtype to test how fractional or NaN labels are taken)",
                    path)
            if not -(2**63) <= x < 2**63:
                raise ctx.error(f"label {v} does not fit in int64", path)
            out[i] = int(x)
        return out.reshape(shape)
    fmt = get_format(fmt_name)
    out = np.empty(len(flat), dtype=np.float64)
    for i, v in enumerate(flat):
        try:
            x = parse_number(v)
        except ValueError as exc:
            raise ctx.error(str(exc), path) from None
        out[i] = x if isinstance(x, float) else round_fraction(x, fmt)
    return out.reshape(shape)


def _show(v: Any) -> str:
    """A spec number as a person wrote it (Fractions from YAML floats back to decimals)."""
    if isinstance(v, Fraction):
        return repr(float(v)) if Fraction(float(v)) == v else str(v)
    return str(v)


def _inputs(raw: Mapping, case: Mapping, path: tuple, ctx: _Ctx) -> Inputs:
    dtype = case["dtype"]
    sparse = case["loss"] == "sparse_categorical_crossentropy"
    label_dtype = case.get("label_dtype")
    if sparse and label_dtype in (None, "int32", "int64"):
        y_true = _convert(raw["y_true"], "int", "float64", path + ("y_true",), ctx)
        if label_dtype == "int32" and y_true.size and (y_true.min() < -2**31 or y_true.max() >= 2**31):
            raise ctx.error("label does not fit in int32", path + ("y_true",))
    else:
        if label_dtype in ("int32", "int64"):
            raise ctx.error("an integer label_dtype applies to sparse labels only", ("label_dtype",))
        y_true = _convert(raw["y_true"], "float", label_dtype or dtype, path + ("y_true",), ctx)
    y_pred = _convert(raw["y_pred"], "float", dtype, path + ("y_pred",), ctx)
    sw = None
    if "sample_weight" in raw:
        wdtype = (case.get("params") or {}).get("dtype") or ("float32" if case["form"] != "function" else dtype)
        sw = _convert(raw["sample_weight"], "float", wdtype, path + ("sample_weight",), ctx)
    return Inputs(y_true=y_true, y_pred=y_pred, sample_weight=sw)


def _shapes_agree(case: Mapping, inp: Inputs) -> str | None:
    """Why y_true and y_pred cannot go together, or None."""
    t, p = inp.y_true.shape, inp.y_pred.shape
    axis = (case.get("params") or {}).get("axis", -1)
    if case["loss"] == "sparse_categorical_crossentropy":
        if len(p) == 0:
            return f"y_pred must have a class axis, got shape {list(p)}"
        ax = axis % len(p) if -len(p) <= axis < len(p) else None
        if ax is None:
            return f"axis {axis} is out of range for y_pred of rank {len(p)}"
        reduced = p[:ax] + p[ax + 1:]
        squeezed = t[:ax] + t[ax + 1:] if len(t) == len(p) and t[ax] == 1 else None
        if t != reduced and squeezed != reduced:
            return (f"y_true shape {list(t)} does not match y_pred shape {list(p)} without its class "
                    f"axis ({list(reduced)})")
        return None
    if t != p:
        # The classes first match ranks differing by a trailing size-1 axis (squeeze or expand).
        column = (t == p[:-1] and p[-1:] == (1,)) or (p == t[:-1] and t[-1:] == (1,))
        if column and case.get("form") != "function":
            return None
        return f"y_true shape {list(t)} differs from y_pred shape {list(p)}"
    return None


def _documented(raw: Mapping | None, path: tuple, ctx: _Ctx) -> Documented | None:
    if raw is None:
        return None
    profile = raw.get("profile")
    if profile is not None:
        try:
            get_profile(profile)
        except SpecError as exc:
            raise ctx.error(exc.message, path + ("profile",)) from None
    return Documented(value=_plain(raw["value"]), source=raw["source"], version=raw.get("version"),
                      profile=profile, erratum=_plain(raw.get("erratum")))


def _plain(value: Any) -> Any:
    """Turn loader containers and exact numbers back into plain JSON-able data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


def _prune_array(value: Any) -> Any:
    """A nested number list reduced to one item of each kind per level."""
    if not isinstance(value, list):
        return value
    kinds: dict[type, Any] = {}
    for v in value:
        kinds.setdefault(type(v), v)
    return [_prune_array(v) for v in kinds.values()]


def _prune(raw: Mapping) -> dict:
    """A copy of a case for schema validation in which written-out arrays are pruned.

    The schema's check of every number of a large array costs seconds; the
    converter checks every element anyway (same rules, with the field path),
    so the schema only needs to see what kinds of items an array holds.
    """
    def inputs(block: Any) -> Any:
        if not isinstance(block, dict):
            return block
        return {k: _prune_array(v) if k in ("y_true", "y_pred", "sample_weight") else v
                for k, v in block.items()}

    out = dict(raw)
    if "inputs" in out:
        out["inputs"] = inputs(out["inputs"])
    if isinstance(out.get("steps"), list):
        out["steps"] = [{**st, "update": inputs(st["update"])} if isinstance(st, dict) and "update" in st else st
                        for st in out["steps"]]
    return out


def _build(raw: LineDict, file: str) -> Case:
    cid = raw.get("id") if isinstance(raw.get("id"), str) else None
    ctx = _Ctx(file, raw, cid)
    errors = sorted(_validator().iter_errors([_prune(raw)]), key=lambda e: len(list(e.absolute_path)))
    if errors:
        msg, path = _describe(errors[0])
        path = tuple(path)[1:] if path and path[0] == 0 else tuple(path)
        raise ctx.error(msg, path)
    profiles_all = tuple(load_profiles())
    profiles = tuple(raw.get("profiles") or profiles_all)
    for i, name in enumerate(profiles):
        why = selector_error(name) if name not in profiles_all else None
        if why:
            raise ctx.error(why, ("profiles", i))
    expect = {}
    for name, entry in (raw.get("expect") or {}).items():
        why = selector_error(name) if name not in profiles_all else None
        if why:
            raise ctx.error(why, ("expect", name))
        expect[name] = Expect(error=entry.get("error"), value=_plain(entry.get("value")),
                              reason=entry.get("reason"))
    params = dict(_plain(raw.get("params") or {}))
    if "label_smoothing" in params:
        ls = parse_number(raw["params"]["label_smoothing"])
        params["label_smoothing"] = float(ls) if not isinstance(ls, float) else ls
        if case_loss_is_sparse(raw) and not any(e.error for e in expect.values()):
            raise ctx.error("sparse categorical crossentropy has no label_smoothing "
                            "(state the error each profile gives in `expect`)", ("params", "label_smoothing"))
    inputs = steps = None
    expects_shape_error = any(e.error == "invalid_shape" for e in expect.values())
    if "inputs" in raw:
        inputs = _inputs(raw["inputs"], raw, ("inputs",), ctx)
        why = _shapes_agree(raw, inputs)
        if why and not expects_shape_error:
            raise ctx.error(why + " (a case that tests this must expect error invalid_shape)", ("inputs",))
    if "steps" in raw:
        built = []
        for i, step in enumerate(raw["steps"]):
            if step in ("reset", "result") or (isinstance(step, dict) and ("reset" in step)):
                built.append(Step(kind="reset" if (step == "reset" or "reset" in step) else "result"))
            elif "update" in step:
                inp = _inputs(step["update"], raw, ("steps", i, "update"), ctx)
                why = _shapes_agree(raw, inp)
                if why and not expects_shape_error:
                    raise ctx.error(why, ("steps", i, "update"))
                built.append(Step(kind="update", inputs=inp))
            else:
                doc = _documented((step["result"] or {}).get("documented"), ("steps", i, "result", "documented"),
                                  ctx)
                built.append(Step(kind="result", documented=doc))
        if not any(s.kind == "result" for s in built):
            raise ctx.error("a metric case needs at least one `result` step", ("steps",))
        steps = tuple(built)
    tol = raw.get("tolerance")
    return Case(
        id=raw["id"], loss=raw["loss"], form=raw["form"], dtype=raw["dtype"], params=params,
        profiles=profiles, inputs=inputs, steps=steps, label_dtype=raw.get("label_dtype"),
        documented=_documented(raw.get("documented"), ("documented",), ctx), expect=expect,
        config=_plain(raw.get("config")), config_of=raw.get("config_of", "loss"),
        tolerance=Tolerance(ulps=_plain(tol.get("ulps")), reason=tol["reason"]) if tol else None,
        notes=raw.get("notes"), tags=tuple(raw.get("tags") or ()), source=SourceRef(file, raw.line),
        raw=_plain(raw))


def case_loss_is_sparse(raw: Mapping) -> bool:
    """Whether a raw case mapping is of the sparse categorical loss."""
    return raw.get("loss") == "sparse_categorical_crossentropy"


_CACHE: dict[tuple, list[Case]] = {}
_CACHE_FILES = 64  # at most this many files are kept


def _freeze(case: Case) -> Case:
    """Make a cached case's arrays read-only: callers share them (adapters get copies)."""
    for inp in [case.inputs, *(s.inputs for s in case.steps or ())]:
        if inp is not None:
            for a in (inp.y_true, inp.y_pred, inp.sample_weight):
                if a is not None:
                    a.setflags(write=False)
    return case


def load_file(path: str | Path, display: str | None = None) -> list[Case]:
    """Load and validate one case file; raises SpecError on the first problem.

    The cases of an unchanged file (same path, size and modification time)
    are loaded once per process: ``xentspec run`` checks the files before
    pytest starts and the run reuses them. Their arrays are read-only.
    """
    path = Path(path)
    name = display or path.name
    try:
        st = path.stat()
        key = (str(path.resolve()), name, st.st_size, st.st_mtime_ns)
        if key in _CACHE:
            return list(_CACHE[key])
        _check_size(path, name)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", file=name) from None
    cases = _load_text(text, name)
    if len(_CACHE) >= _CACHE_FILES:
        _CACHE.clear()
    _CACHE[key] = [_freeze(c) for c in cases]
    return list(cases)


def _load_text(text: str, name: str) -> list[Case]:
    data = load_yaml(text, name)
    if data is None:
        return []
    if not isinstance(data, list):
        raise SpecError(f"a case file is a YAML list of cases, got a {kind_of(data)}", file=name,
                        line=getattr(data, "line", None))
    cases = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise SpecError(f"item {i} is a {kind_of(raw)}, expected a case mapping", file=name,
                            line=data.item_lines[i])
        cases.append(_build(raw, name))
    return cases


def _check_size(path: Path, name: str) -> None:
    """A file above MAX_FILE_BYTES is rejected before it is parsed, naming the line where the limit falls."""
    size = path.stat().st_size
    if size <= MAX_FILE_BYTES:
        return
    with path.open("rb") as f:
        line = f.read(MAX_FILE_BYTES).count(b"\n") + 1
    raise SpecError(f"the file is {size / 2**20:.1f} MiB, larger than the {MAX_FILE_BYTES // 2**20} MiB limit of a "
                    "case file (reached at this line); write large arrays as generators "
                    "({shape, seed, uniform | normal | integers | fill})", file=name, line=line)


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())
            if not found:
                raise SpecError("no .yaml or .yml files in this folder", file=str(p))
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise SpecError(f"no such file or folder: {p}")
    return out


def load_cases(extra: Iterable[str | Path] = (), *, builtin: bool = True) -> list[Case]:
    """The built-in cases (unless ``builtin=False``) plus those of ``extra`` files or folders.

    User files are treated exactly like the built-in ones; ids must be unique
    across all of them.
    """
    builtins = builtin_case_files() if builtin else []
    files = builtins + _expand(extra)
    seen: dict[str, Case] = {}
    out: list[Case] = []
    for f in files:
        display = f.name if f in builtins else str(f)
        cases = load_file(f, display=display)
        if not cases and f not in builtins:
            raise SpecError("holds no cases (it is empty or only comments); a case file is a YAML list of "
                            "cases", file=display)
        for case in cases:
            if case.id in seen:
                first = seen[case.id].source
                raise SpecError(f"duplicate id (first defined at {first})", file=case.source.file,
                                line=case.source.line, case_id=case.id, field="id")
            seen[case.id] = case
            out.append(case)
    return out

