"""The specification: the case format, its loader and validator, and the profiles.

Public API::

    from xentspec.spec import load_cases, Case, SpecError, get_profile, compute_dtype
"""

from .case import DTYPES, ERROR_CATEGORIES, FORMS, LOSSES, Case, Documented, Expect, Inputs, Step
from .errors import SpecError
from .loader import builtin_case_files, compute_dtype, load_cases, load_file
from .profiles import Profile, get_profile, load_profiles, profile_names

__all__ = ["Case", "Documented", "Expect", "Inputs", "Step", "SpecError", "Profile", "DTYPES", "FORMS",
           "LOSSES", "ERROR_CATEGORIES", "builtin_case_files", "compute_dtype", "get_profile", "load_cases",
           "load_file", "load_profiles", "profile_names"]
