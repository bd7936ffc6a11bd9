"""The specification: the case format, its loader and validator, and the profiles."""
