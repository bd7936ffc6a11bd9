"""Profiles: the semantic choices that differ between Keras versions and backends.

The choices live in ``profiles.yaml`` beside this module (each one explained
there); this module loads them, resolves ``extends`` and checks that every
profile sets every choice to a known value, so the reference and the adapters
can select behaviour by name instead of by version tests scattered in code.

A choice whose value changed between releases is written as its history, a
list of ``{value, since, source}`` entries, and a profile is resolved at a
release of its family (``keras3-torch@3.8``; the bare name is the newest
release): see :mod:`.releases` for names and selectors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .errors import SpecError
from .releases import parse_selector, parse_version, split_name

__all__ = ["Profile", "load_profiles", "get_profile", "profile_names", "release_profile_names", "family_releases",
           "selector_error", "selects", "profile_for_release", "same_base", "CHOICES", "RELEASES_KEY"]

RELEASES_KEY = "releases"  # the top-level key of profiles.yaml listing each family's releases

# Every choice and the values it may take (None: free-form, checked by type).
CHOICES: Mapping[str, tuple | type] = MappingProxyType({
    "epsilon": float,
    "clip_bounds": ("dtype",),
    "scce_probabilities": ("renormalize_then_clip", "clip_then_renormalize"),
    "bce_probabilities": ("clip", "clip_double_epsilon"),
    "bce_logits": ("exact", "sigmoid_then_clip"),
    "scce_logits_label": ("gather", "one_hot_product"),
    "label_cast": ("loss_dtype", "none"),
    "out_of_range_label": ("error", "zero", "zero_if_negative", "zero_if_minus_100"),
    "scce_axis": ("any", "last_only", "labels_checked_as_last"),
    "nan_label": ("out_of_range", "class_zero"),
    "ignore_class": bool,
    "metric_ignore_class": bool,
    "masked_mean_divisor": ("valid", "valid_plus_epsilon", "all"),
    "all_masked": ("zero", "nan"),
    "zero_over_zero": ("zero", "nan"),
    "empty_rank1_passthrough": bool,
    "reductions": list,
    "default_reduction": str,
    "weight_expand_rank1": bool,
    "cce_smoothing_classes": ("y_pred_axis", "y_true_last", "y_true_axis", "y_true_1"),
    "metric_counts_ignored": bool,
    "metric_inputs": ("as_given", "converted"),
    "float64_tensors": ("float64", "float32"),
    "float64_dense": ("float64", "float32"),
    "bfloat16_compute": ("bfloat16", "float32"),
    "sparse_half_result": ("kept", "float32"),
    "mean_float64": ("float64", "float32"),
    "divide_no_nan_float64": ("float64", "float32"),
    "bce_logits_form": ("log_sigmoid", "relu_log1p", "torch_log_sigmoid"),
    "bce_log_clamp": ("none", "minus_100"),
    "bce_range_check": ("none", "invalid_value"),
    "loss_dtype": ("float16", "bfloat16", "float32", "float64"),
    "loss_class_dtype": ("loss_dtype", "y_pred"),
    "reduction_null": ("none", "error"),
    "scce_class_axis": bool,
    "rank_match": ("expand_rank1", "squeeze"),
    "scce_label_shape": ("strict", "flatten"),
    "bce_shapes": ("equal", "broadcast"),
    "dense_axis_argument": bool,
    "weighted_loss_dtype": ("losses", "float32"),
    "label_smoothing_dtype": ("compute", "floatx"),
    "subnormals": ("kept", "flushed", "flushed_all"),
    "loss_dtype_argument": bool,
    "metric_config_dtype": ("floatx", "none"),
    "metric_weight_broadcast": ("broadcast", "as_given"),
    "scce_label_column": ("class_axis", "last", "last_after_mask"),
    "one_hot_shape": ("exact", "drops_unit_last_axis", "permutes_negative_axis"),
    "sparse_where_float64": ("float64", "float32"),
})

KNOWN_REDUCTIONS = ("auto", "sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


@dataclass(frozen=True)
class Profile:
    """One named bundle of semantic choices at one release; choices read as attributes (``p.bce_logits``).

    ``name`` is the full name (``keras3-torch@3.8``, or the bare base for the
    newest release), ``base`` the block of profiles.yaml, ``release`` the
    release the choices were resolved at, ``family`` the releases it belongs
    to (``keras3``, ``tf-keras``, ``tf1``), ``sources`` the source (PR,
    commit, file) of each choice value that holds only from some release on.
    """

    name: str
    description: str
    choices: Mapping[str, Any]
    base: str = ""
    release: str | None = None
    family: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, item: str) -> Any:
        try:
            return self.__dict__["choices"][item]
        except KeyError:
            raise AttributeError(f"profile {self.__dict__.get('name')!r} has no choice {item!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved choices as plain data (for reports)."""
        return {"name": self.name, "description": self.description, **dict(self.choices)}


def _is_history(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "value" in v for v in value)


def _resolve(name: str, raw: Mapping[str, dict], seen: tuple[str, ...], where: str) -> dict:
    """The choices of ``name`` with its ancestors' (``extends``) filled in."""
    return {k: v for k, (v, _) in _resolve_owned(name, raw, seen, where).items()}


def _resolve_owned(name: str, raw: Mapping[str, dict], seen: tuple[str, ...], where: str) -> dict:
    """Like :func:`_resolve`, each value paired with the family of the block that set it.

    A history holds for the releases of the family it was written for: a profile of another
    family (tf-keras extends keras3) must set such a choice itself, or it would read a Keras 3
    release's value at a tf-keras release number.
    """
    if name in seen:
        raise SpecError("profile inheritance loops: " + " -> ".join(seen + (name,)), file=where)
    entry = raw[name]
    if not isinstance(entry, dict):
        raise SpecError(f"profile {name!r} must be a mapping of choices", file=where, field=name)
    parent = entry.get("extends")
    base: dict = {}
    if parent is not None:
        if parent not in raw or parent == RELEASES_KEY:
            raise SpecError(f"profile {name!r} extends unknown profile {parent!r}", file=where,
                            field=f"{name}.extends")
        base = _resolve_owned(parent, raw, seen + (name,), where)
    family = entry.get("family", base.get("family", (None, None))[0])
    own = {k: (v, family) for k, v in entry.items() if k not in ("extends",)}
    merged = {**base, **own}
    for key, (value, fam) in merged.items():
        if key != "family" and fam != family and _is_history(value):
            raise SpecError(f"profile {name!r} (family {family}) inherits the {fam} history of {key!r}; "
                            "set the choice for this family", file=where, field=f"{name}.{key}")
    return merged


def _check_value(name: str, key: str, value: Any, where: str) -> None:
    allowed = CHOICES[key]
    if isinstance(allowed, tuple):
        if value not in allowed:
            raise SpecError(f"{value!r} is not one of {', '.join(map(str, allowed))}", file=where,
                            field=f"{name}.{key}")
    elif not isinstance(value, allowed) or isinstance(value, bool) and allowed is not bool:
        raise SpecError(f"expected a {allowed.__name__}, got {value!r}", file=where, field=f"{name}.{key}")
    if key == "reductions":
        bad = [r for r in value if r not in KNOWN_REDUCTIONS]
        if bad:
            raise SpecError(f"unknown reductions {bad}; known: {', '.join(KNOWN_REDUCTIONS)}", file=where,
                            field=f"{name}.reductions")


def _check_history(name: str, key: str, history: list, releases: tuple[str, ...], where: str) -> None:
    """A choice's history: entries {value, since, source}, the first without since, in release order."""
    last = None
    for i, h in enumerate(history):
        unknown = set(h) - {"value", "since", "source"}
        if unknown:
            raise SpecError(f"unknown key(s) {', '.join(sorted(unknown))} (a history entry has value, since, "
                            "source)", file=where, field=f"{name}.{key}[{i}]")
        if i == 0 and "since" in h:
            raise SpecError("the first entry of a history holds from the first release: give it no `since`",
                            file=where, field=f"{name}.{key}[0]")
        if i > 0:
            if "since" not in h or not h.get("source"):
                raise SpecError("a later entry needs `since` (the release it holds from) and `source` (the PR, "
                                "commit or file that changed it)", file=where, field=f"{name}.{key}[{i}]")
            try:
                v = parse_version(str(h["since"]))
            except ValueError as exc:
                raise SpecError(str(exc), file=where, field=f"{name}.{key}[{i}].since") from None
            if last is not None and v <= last:
                raise SpecError("history entries must be in increasing `since` order", file=where,
                                field=f"{name}.{key}[{i}].since")
            if releases and not parse_version(releases[0]) < v:
                raise SpecError(f"since {h['since']} is not after the family's first release {releases[0]}",
                                file=where, field=f"{name}.{key}[{i}].since")
            last = v
        _check_value(name, key, h["value"], where)


def _at(history: list, release: str | None) -> tuple[Any, str | None]:
    """The value (and its source) a history gives at ``release`` (the newest entry when None)."""
    chosen = history[0]
    for h in history[1:]:
        if release is None or parse_version(str(h["since"])) <= parse_version(release):
            chosen = h
    return chosen["value"], chosen.get("source")


@functools.lru_cache(maxsize=None)
def _raw() -> tuple[dict, dict[str, tuple[str, ...]]]:
    """The checked, extends-resolved (unevaluated) choices of every base, and the family releases."""
    where = "profiles.yaml"
    text = resources.files(__package__).joinpath("profiles.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping of profile names to choices", file=where)
    fams = raw.get(RELEASES_KEY) or {}
    if not isinstance(fams, dict) or not all(isinstance(v, list) and v for v in fams.values()):
        raise SpecError(f"{RELEASES_KEY!r} must map each family to its list of releases", file=where)
    families = {str(k): tuple(str(r) for r in v) for k, v in fams.items()}
    for fam, rels in families.items():
        try:
            versions = [parse_version(r) for r in rels]
        except ValueError as exc:
            raise SpecError(str(exc), file=where, field=f"{RELEASES_KEY}.{fam}") from None
        if versions != sorted(versions):
            raise SpecError("releases must be listed oldest first", file=where, field=f"{RELEASES_KEY}.{fam}")
    out = {}
    for name in raw:
        if name == RELEASES_KEY:
            continue
        merged = _resolve(name, raw, (), where)
        fam = merged.get("family")
        if fam is not None and fam not in families:
            raise SpecError(f"unknown family {fam!r}; families: {', '.join(families)}", file=where,
                            field=f"{name}.family")
        for key, value in merged.items():
            if key in ("description", "family"):
                continue
            if key not in CHOICES:
                raise SpecError(f"unknown choice {key!r}; known: {', '.join(CHOICES)}", file=where,
                                field=f"{name}.{key}")
            if _is_history(value):
                _check_history(name, key, value, families.get(fam, ()), where)
            else:
                _check_value(name, key, value, where)
        missing = [k for k in CHOICES if k not in merged]
        if missing:
            raise SpecError(f"profile {name!r} leaves choices unset: {', '.join(missing)}", file=where, field=name)
        out[name] = merged
    return out, families


def family_releases(family: str | None) -> tuple[str, ...]:
    """The known releases of ``family``, oldest first (empty for a profile without a family)."""
    return _raw()[1].get(family or "", ())


def _check_release(base: str, family: str | None, release: str) -> None:
    rels = family_releases(family)
    if not rels:
        raise SpecError(f"profile {base!r} has no releases (it belongs to no family in profiles.yaml)")
    try:
        v = parse_version(release)
    except ValueError as exc:
        raise SpecError(f"profile {base}@{release}: {exc}") from None
    first, last = parse_version(rels[0]), parse_version(rels[-1])
    if v < first or v.release[:2] > last.release[:2]:
        raise SpecError(f"profile {base}@{release}: {family} releases known to the spec run from {rels[0]} to "
                        f"{rels[-1]}")


@functools.lru_cache(maxsize=None)
def _build(base: str, release: str | None) -> Profile:
    raws, _ = _raw()
    merged = raws[base]
    family = merged.get("family")
    if release is not None:
        _check_release(base, family, release)
    resolved = family_releases(family)[-1] if family_releases(family) and release is None else release
    choices, sources = {}, {}
    for key, value in merged.items():
        if key in ("description", "family"):
            continue
        if _is_history(value):
            choices[key], src = _at(value, resolved)
            if src:
                sources[key] = src
        else:
            choices[key] = value
    desc = " ".join(str(merged.get("description", "")).split())
    name = base if release is None else f"{base}@{release}"
    return Profile(name, desc, MappingProxyType(choices), base, resolved, family, MappingProxyType(sources))


@functools.lru_cache(maxsize=None)
def load_profiles() -> Mapping[str, Profile]:
    """All profile bases of ``profiles.yaml`` at their family's newest release, resolved and checked, by name."""
    return MappingProxyType({name: _build(name, None) for name in _raw()[0]})


def profile_names() -> tuple[str, ...]:
    """Names of every profile base, in file order (each meaning its family's newest release)."""
    return tuple(load_profiles())


def release_profile_names(base: str | None = None) -> tuple[str, ...]:
    """``base@release`` for every known release of each base's family (of ``base`` only when given)."""
    out = []
    for name, prof in load_profiles().items():
        if base is None or name == base:
            out += [f"{name}@{r}" for r in family_releases(prof.family)]
    return tuple(out)


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (``base`` or ``base@release``); a SpecError lists the defined ones otherwise."""
    if isinstance(name, Profile):
        return name
    base, release = split_name(name)
    profiles = load_profiles()
    if base not in profiles:
        raise SpecError(f"unknown profile {name!r}; defined: {', '.join(profiles)} (each also as NAME@RELEASE, "
                        "e.g. keras3-torch@3.8)")
    return _build(base, release)


def selector_error(text: str) -> str | None:
    """Why ``text`` is not a selector covering some profile (None when it is one); see :mod:`.releases`."""
    try:
        sel = parse_selector(text)
    except ValueError as exc:
        return str(exc)
    bases = [b for b in load_profiles() if sel.matches_base(b)]
    if not bases:
        return (f"unknown profile {text!r} (it matches no profile); defined: {', '.join(load_profiles())} "
                "(globs and NAME@RELEASE allowed)")
    if sel.specifier is not None and not any(sel.matches(b, r) for b in bases
                                             for r in family_releases(load_profiles()[b].family)):
        return f"{text!r}: no known release of {', '.join(bases)} is {sel.specifier}"
    return None


def selects(selectors: Any, profile: str | Profile) -> bool:
    """Whether any of ``selectors`` covers ``profile`` (a name or a Profile, resolved at its release)."""
    prof = get_profile(profile)
    return any(parse_selector(s).matches(prof.base or prof.name, prof.release) for s in selectors)


def profile_for_release(base: str, package: str, version: str | None) -> tuple[str, str]:
    """The profile an implementation of ``package`` at ``version`` is judged under, and why.

    The newest known release of ``base``'s family that is not newer than
    ``version`` (by major.minor): keras 3.13.2 gives ``keras3-torch@3.13``. A
    version newer than every known release gets the newest one; an unknown
    or missing version gets the bare base (the newest release). The reason
    says which happened, for the report.
    """
    prof = get_profile(base)
    rels = family_releases(prof.family)
    if not rels:
        return base, f"profile {base} (it has no releases)"
    try:
        v = parse_version(str(version))
    except ValueError:
        return base, f"{package} version unknown ({version}): the newest release's profile, {base}"
    known = [r for r in rels if parse_version(r).release[:2] <= v.release[:2]]
    if not known:
        return f"{base}@{rels[0]}", (f"{package} {version} is older than the oldest release the spec knows "
                                     f"({rels[0]}): judged as {rels[0]}")
    name = f"{base}@{known[-1]}"
    if parse_version(known[-1]).release[:2] != v.release[:2]:
        return name, (f"{package} {version} is newer than the newest release the spec knows ({known[-1]}): "
                      f"judged as {known[-1]}")
    return name, f"{package} {version} is installed (package metadata): its release's profile, {name}"


def same_base(a: str, b: str) -> bool:
    """Whether two profile names are releases of the same base (``keras3-torch@3.8`` and ``keras3-torch``)."""
    return split_name(a)[0] == split_name(b)[0]
