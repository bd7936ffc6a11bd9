"""Profiles: the semantic choices that differ between Keras versions and backends.

The choices live in ``profiles.yaml`` beside this module (each one explained
there); this module loads them, resolves ``extends`` and checks that every
profile sets every choice to a known value, so the reference and the adapters
can select behaviour by name instead of by version tests scattered in code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .errors import SpecError

__all__ = ["Profile", "load_profiles", "get_profile", "profile_names", "CHOICES"]

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
    "masked_mean_divisor": ("valid", "valid_plus_epsilon"),
    "all_masked": ("zero", "nan"),
    "zero_over_zero": ("zero", "nan"),
    "empty_rank1_passthrough": bool,
    "reductions": list,
    "default_reduction": str,
    "weight_expand_rank1": bool,
    "cce_smoothing_classes": ("y_pred_axis", "y_true_last", "y_true_axis"),
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
})

KNOWN_REDUCTIONS = ("auto", "sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


@dataclass(frozen=True)
class Profile:
    """One named bundle of semantic choices; choices read as attributes (``p.bce_logits``)."""

    name: str
    description: str
    choices: Mapping[str, Any]

    def __getattr__(self, item: str) -> Any:
        try:
            return self.__dict__["choices"][item]
        except KeyError:
            raise AttributeError(f"profile {self.__dict__.get('name')!r} has no choice {item!r}") from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved choices as plain data (for reports)."""
        return {"name": self.name, "description": self.description, **dict(self.choices)}


def _resolve(name: str, raw: Mapping[str, dict], seen: tuple[str, ...], where: str) -> dict:
    if name in seen:
        raise SpecError("profile inheritance loops: " + " -> ".join(seen + (name,)), file=where)
    entry = raw[name]
    parent = entry.get("extends")
    base: dict = {}
    if parent is not None:
        if parent not in raw:
            raise SpecError(f"profile {name!r} extends unknown profile {parent!r}", file=where,
                            field=f"{name}.extends")
        base = _resolve(parent, raw, seen + (name,), where)
    merged = {**base, **{k: v for k, v in entry.items() if k not in ("extends",)}}
    return merged


def _check(name: str, merged: dict, where: str) -> None:
    for key, value in merged.items():
        if key == "description":
            continue
        if key not in CHOICES:
            raise SpecError(f"unknown choice {key!r}; known: {', '.join(CHOICES)}", file=where,
                            field=f"{name}.{key}")
        allowed = CHOICES[key]
        if isinstance(allowed, tuple):
            if value not in allowed:
                raise SpecError(f"{value!r} is not one of {', '.join(map(str, allowed))}",
                                file=where, field=f"{name}.{key}")
        elif not isinstance(value, allowed) or isinstance(value, bool) and allowed is not bool:
            raise SpecError(f"expected a {allowed.__name__}, got {value!r}", file=where,
                            field=f"{name}.{key}")
    missing = [k for k in CHOICES if k not in merged]
    if missing:
        raise SpecError(f"profile {name!r} leaves choices unset: {', '.join(missing)}", file=where,
                        field=name)
    bad = [r for r in merged["reductions"] if r not in KNOWN_REDUCTIONS]
    if bad:
        raise SpecError(f"unknown reductions {bad}; known: {', '.join(KNOWN_REDUCTIONS)}",
                        file=where, field=f"{name}.reductions")


@functools.lru_cache(maxsize=None)
def load_profiles() -> Mapping[str, Profile]:
    """All profiles of ``profiles.yaml``, resolved and checked, by name."""
    where = "profiles.yaml"
    text = resources.files(__package__).joinpath("profiles.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise SpecError("expected a mapping of profile names to choices", file=where)
    out = {}
    for name in raw:
        merged = _resolve(name, raw, (), where)
        _check(name, merged, where)
        desc = " ".join(str(merged.pop("description", "")).split())
        out[name] = Profile(name, desc, MappingProxyType(merged))
    return MappingProxyType(out)


def profile_names() -> tuple[str, ...]:
    """Names of every defined profile, in file order."""
    return tuple(load_profiles())


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a SpecError lists the defined ones otherwise."""
    profiles = load_profiles()
    if name not in profiles:
        raise SpecError(f"unknown profile {name!r}; defined: {', '.join(profiles)}")
    return profiles[name]
