"""``truth(case, profile)``: the certified exact and correctly rounded outputs of a case.

This module only orchestrates: the profile's argument checks, the loss
function / loss class / metric semantics, the Ziv loop, the optional float64
fast path, and the on-disk cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from xentspec.spec.case import Case, Inputs, Step
from xentspec.spec.floats import get_format, json_number, round_fraction, to_hex
from xentspec.spec.dtypes import call_dtypes
from xentspec.spec.profiles import Profile, get_profile

from . import cache as _cache
from .certify import Certified, certify_all
from .engine import ENGINES
from .metric import metric_results
from .reductions import reduce_loss, resolve_reduction
from .semantics import RefError, check_arguments, clip_bounds, loss_function

__all__ = ["Truth", "truth", "element_dtype", "REFERENCE_VERSION", "FAST_MIN_ELEMENTS", "DIGITS_MAX_ELEMENTS"]

REFERENCE_VERSION = "1.9.0"  # bump on any change of computed values: it keys the disk cache
FAST_MIN_ELEMENTS = 4096      # float32 cases with at least this many y_pred entries may take the fast path
DIGITS_MAX_ELEMENTS = 20000   # above this many loss elements, exact strings carry the certified digits only


def _nested(a: Any, f: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return f(a)
    if a.ndim == 0:
        return f(a[()])
    return [_nested(a[i], f) for i in range(a.shape[0])]



@dataclass(frozen=True)
class Truth:
    """The reference result of one case under one profile.

    ``value`` holds the correctly rounded ``dtype`` values (float64 array),
    ``exact`` their exact decimal strings, ``scale`` the conditioning
    magnitudes; all three are None when the profile raises (``error``) or a
    config case has no inputs.
    """

    case_id: str
    profile: str
    dtype: str
    error: str | None
    value: np.ndarray | None
    exact: np.ndarray | None
    scale: np.ndarray | None
    element_dtype: str | None = None  # the per-element losses' dtype when it is not ``dtype``

    def hex(self) -> Any:
        """The values as (nested lists of) hex-float strings; None without a value."""
        if self.value is None:
            return None
        return _nested(self.value, lambda v: to_hex(float(v)))

    def to_json(self) -> dict:
        """Plain JSON data: id, profile, dtype, value, hex, exact, error, scale."""
        if self.value is None:
            value = exact = scale = None
        else:
            value = _nested(self.value, json_number)
            exact = _nested(self.exact, str)
            scale = _nested(self.scale, json_number)
        return {"id": self.case_id, "profile": self.profile, "dtype": self.dtype, "value": value,
                "hex": self.hex(), "exact": exact, "error": self.error, "scale": scale,
                "element_dtype": self.element_dtype}

    @classmethod
    def from_json(cls, data: dict) -> "Truth":
        """Rebuild a Truth from :meth:`to_json` output (used by the cache)."""
        if data["value"] is None:
            v = e = s = None
        else:
            v = np.array(_unjson(data["hex"], lambda h: float.fromhex(h) if h not in ("nan", "inf", "-inf")
                                 else float(h)), dtype=np.float64)
            e = np.array(_unjson(data["exact"], str), dtype=object)
            s = np.array(_unjson(data["scale"], float), dtype=np.float64)
            if v.shape != e.shape or v.shape != s.shape:
                raise ValueError("inconsistent cached shapes")
        return cls(data["id"], data["profile"], data["dtype"], data["error"], v, e, s, data.get("element_dtype"))


def _unjson(x: Any, f: Any) -> Any:
    if isinstance(x, list):
        return [_unjson(y, f) for y in x]
    return f(x)


def _round_array(a: np.ndarray, dtype: str) -> np.ndarray:
    """Convert exact values to ``dtype`` as Keras's convert_to_tensor does (one rounding)."""
    if a.dtype.kind != "f" or dtype == "float64":
        return a
    if dtype in ("float32", "float16"):
        # One IEEE conversion from the exact float64 value: correctly rounded, no double rounding.
        with np.errstate(over="ignore"):
            return a.astype(dtype).astype(np.float64)
    fmt = get_format(dtype)
    out = np.empty_like(a)
    for idx, v in np.ndenumerate(a):
        v = float(v)
        out[idx] = v if not math.isfinite(v) else round_fraction(Fraction(v), fmt)
    return out


def _class_inputs(inp: Inputs, dtype: str, case: Case, weights: str | None = None,
                  compute: str | None = None) -> Inputs:
    """The arrays as a loss/metric class sees them after converting to its dtype.

    ``dtype`` is the tensors' dtype (y_true and y_pred are rounded to it, then
    to ``compute`` where the backend demotes them), ``weights`` the dtype
    sample weights are converted to (default ``dtype``). Sparse labels are left
    alone here: the profile's ``label_cast`` decides.
    """
    def conv(a: np.ndarray) -> np.ndarray:
        a = _round_array(a, dtype)
        return _round_array(a, compute) if compute and compute != dtype else a
    yt = inp.y_true if case.sparse else conv(inp.y_true)
    sw = None if inp.sample_weight is None else _round_array(inp.sample_weight, weights or dtype)
    return Inputs(y_true=yt, y_pred=conv(inp.y_pred), sample_weight=sw)


def _match_ranks(inp: Inputs, prof: Any) -> Inputs:
    """The classes' first step: squeeze or expand y_true / y_pred to the same rank.

    When the ranks differ by one and the larger tensor's last axis has size 1:
    under ``rank_match: expand_rank1`` (Keras 3 ``LossFunctionWrapper.call``,
    ``squeeze_or_expand_to_same_rank``) a rank-1 smaller tensor gains a trailing
    axis, otherwise the larger one loses its last axis; under ``squeeze`` (tf-keras
    ``squeeze_or_expand_dimensions``) the larger one always loses it.
    """
    t, p = inp.y_true, inp.y_pred
    if abs(t.ndim - p.ndim) != 1:
        return inp
    big_is_pred = p.ndim > t.ndim
    big, small = (p, t) if big_is_pred else (t, p)
    if big.shape[-1] != 1:
        return inp
    if small.ndim == 1 and prof.rank_match == "expand_rank1":
        small = small[..., None]
    else:
        big = big[..., 0]
    t, p = (small, big) if big_is_pred else (big, small)
    return replace(inp, y_true=t, y_pred=p)


def _elements(case: Case, profile_name: str | Profile, dtype: str | None = None) -> np.ndarray | None:
    """The exact outputs of the case (object array of Elem), or None for an input-less config.

    The dtypes come from :func:`xentspec.spec.dtypes.call_dtypes`; ``dtype`` is
    accepted for older callers and ignored.
    """
    prof = get_profile(profile_name)
    dts = call_dtypes(case, prof)
    cdt = dts.compute
    form = case.form
    if form == "config":
        # The constructor's argument checks apply whether or not the case has inputs.
        check_arguments(case, prof, "metric" if case.config_of == "metric" else "loss")
        if case.config_of != "metric":
            resolve_reduction(case, prof)
        if case.inputs is None:
            return None
        if case.config_of == "metric":
            # A rebuilt metric computes its inputs as one update followed by a result.
            steps = (Step(kind="update", inputs=case.inputs), Step(kind="result"))
            one = _elements(replace(case, form="metric", inputs=None, steps=steps), profile_name)
            return one.reshape(())
        form = "loss"
    check_arguments(case, prof, form)
    idt = dts.inputs or cdt
    if form == "function":
        # The inputs as the backend's tensors of the compute dtype (JAX without x64: float32).
        inp = _class_inputs(case.inputs, idt, case, compute=cdt)
        values, _ = loss_function(case, inp, prof, cdt, cast_labels=False)
        return values
    if form == "loss":
        reduction = resolve_reduction(case, prof)
        inp = _match_ranks(_class_inputs(case.inputs, idt, case, dts.weights, cdt), prof)
        values, mask = loss_function(case, inp, prof, cdt, cast_labels=prof.label_cast == "loss_dtype",
                                     label_dtype=idt)
        return reduce_loss(values, mask, inp.sample_weight, reduction, prof, clip_bounds(cdt, prof).eps,
                           dts.weights or dts.output)
    if form == "metric":
        # tf-keras converts y_true and y_pred to the metric dtype before calling the loss
        # function; Keras 3 (MeanMetricWrapper) calls it on the inputs as given, so the
        # function computes in y_pred's dtype (call_dtypes' compute), and converts only the
        # weights to the metric's.
        steps = []
        for s in case.steps:
            if s.inputs is not None:
                inp = _class_inputs(s.inputs, idt, case, dts.weights, cdt)
                if prof.rank_match == "squeeze":  # tf-keras MeanMetricWrapper.update_state
                    inp = _match_ranks(inp, prof)
                s = type(s)(kind=s.kind, inputs=inp, documented=s.documented)
            steps.append(s)
        mcase = _with_steps(case, tuple(steps))
        return np.array(metric_results(mcase, prof, cdt, dts.weights or dts.output) + [None], dtype=object)[:-1]
    raise ValueError(f"unknown form {case.form!r}")


def _with_steps(case: Case, steps: tuple) -> Case:
    return replace(case, steps=steps)


def element_dtype(case: Case, profile: str) -> str | None:
    """The dtype the per-element losses are accurate to, where it is not the output dtype.

    A Keras 3 metric (``metric_inputs: as_given``) runs the loss function in
    y_pred's dtype and casts the per-sample values to its own; a float64 mean on
    the torch backend is computed in float32. The budget counts the per-element
    roundings in that dtype (docs/tolerances.md).
    """
    return call_dtypes(case, profile).elements


def _input_size(case: Case) -> int:
    if case.inputs is not None:
        return int(case.inputs.y_pred.size)
    return sum(int(s.inputs.y_pred.size) for s in case.steps or () if s.inputs is not None)


def truth(case: Case, profile: str | Profile = "keras3", *, engine: str = "mpmath", cache: bool = True,
          fast: bool = True) -> Truth:
    """The certified reference result of ``case`` under ``profile`` (a name such as ``keras3-torch@3.8``,
    or a :class:`~xentspec.spec.profiles.Profile`, e.g. one with a choice changed).

    ``engine`` picks the numerics ("mpmath" or "arb"); ``cache`` reads and
    writes the on-disk cache; ``fast`` lets large float32 cases take the
    float64 pre-filter (rows it cannot certify go to the engine).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    prof = get_profile(profile)
    dts = call_dtypes(case, prof)
    dtype = dts.output
    use_fast = dtype == dts.compute == case.dtype == "float32" and _input_size(case) >= FAST_MIN_ELEMENTS
    key = None
    if cache:
        key = _cache.case_key(case, prof, engine, REFERENCE_VERSION, extra=f"fast={use_fast and fast}")
        hit = _cache.load(key)
        if hit is not None:
            try:
                return _reshaped(Truth.from_json(hit["truth"]), hit.get("shape"))
            except (KeyError, TypeError, ValueError):
                pass
    result = replace(_compute(case, prof, dtype, engine, use_fast, fast), element_dtype=dts.elements)
    if cache and key is not None:
        shape = None if result.value is None else list(result.value.shape)
        _cache.store(key, {"truth": result.to_json(), "shape": shape})
    return result


def _reshaped(t: Truth, shape: Any) -> Truth:
    """A cached Truth with the shape stored beside it: nested JSON lists lose the shape of an
    empty result of rank >= 2 ((0, 2) reads back as (0,)). Entries without a shape are
    recomputed when their value is empty (ValueError)."""
    if t.value is None:
        return t
    if shape is None:
        if t.value.size == 0:
            raise ValueError("cached empty result without its shape")
        return t
    shape = tuple(int(n) for n in shape)
    return replace(t, value=t.value.reshape(shape), exact=t.exact.reshape(shape), scale=t.scale.reshape(shape))


def _compute(case: Case, prof: Profile | str, dtype: str, engine: str, use_fast: bool, use_filter: bool) -> Truth:
    prof = get_profile(prof)
    profile = prof.name
    fmt = get_format(dtype)
    if use_fast:
        # Large float32 sparse-from-logits cases: mpmath decides every row directly on mpf
        # tuples, after the float64 pre-filter when it is enabled.
        from .fastpath import fast_truth

        got = fast_truth(case, prof, dtype, engine, use_filter=use_filter)
        if got is not None:
            value, exact, scale = got
            return Truth(case.id, profile, dtype, None, value, exact, scale)
    try:
        elems = _elements(case, prof, dtype)
    except RefError as err:
        return Truth(case.id, profile, dtype, err.category, None, None, None)
    if elems is None:
        return Truth(case.id, profile, dtype, None, None, None, None)
    flat = list(elems.reshape(-1))
    many = len(flat) > DIGITS_MAX_ELEMENTS or _input_size(case) > 50 * DIGITS_MAX_ELEMENTS
    certified = certify_all(flat, fmt, engine, want_digits=not many)
    return _pack(case.id, profile, dtype, elems.shape, certified)


def _pack(cid: str, profile: str, dtype: str, shape: tuple, certified: list[Certified]) -> Truth:
    value = np.array([c.value for c in certified], dtype=np.float64).reshape(shape)
    exact = np.empty(len(certified), dtype=object)
    for i, c in enumerate(certified):
        exact[i] = c.exact
    scale = np.array([c.scale for c in certified], dtype=np.float64).reshape(shape)
    return Truth(cid, profile, dtype, None, value, exact.reshape(shape), scale)
