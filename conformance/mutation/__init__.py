"""The suite's own mutation score: ports that each carry one realistic porting bug, and who kills them.

* :mod:`.mutants`: the mutant adapters. Each is the project's NumPy kernel
  with one bug applied for the duration of a call (a kernel function
  replaced by a buggy copy, or one profile choice of the port taken from the
  wrong Keras), cited to the upstream bug reports it imitates. They are
  ordinary adapters, loadable by spec string
  (``xentspec.conformance.mutation.mutants:NoRenormCCE``) in the runner and
  in a worker subprocess, and deliberately not listed among the built-in
  adapters.
* :mod:`.runner`: one in-process pytest session of the whole suite (spec
  cases and property tests, ``ci`` hypothesis profile, fixed seed) over
  every mutant and the unmutated kernel as control; per mutant, the cases
  and properties that kill it, the full-suite kill status and the
  properties-only kill rate.
* :mod:`.cli`: ``xentspec mutation``.
"""
