#!/usr/bin/env bash
# The conformance steps of this port's CI, runnable locally: .github/workflows/xentspec.yml runs
# exactly this script after installing the package (pip install -e '.[test]').
#
#   ./ci.sh            run the suite, compare with the committed baseline, print the comparison
#
# Exit status: 1 when the comparison finds a regression (a case that passed and now fails, an
# error that grew) or a case fails that the baseline does not record; 0 otherwise. With
# $GITHUB_STEP_SUMMARY set (GitHub Actions sets it), the Markdown report and the comparison are
# appended to the job summary.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
out=${XENTSPEC_OUT:-xentspec-report}

status=0
"$python" -m xentspec run --adapter example-port --expectations expectations.yaml --no-html --quiet \
  --out "$out" || status=$?
"$python" -m xentspec compare baseline/report.json "$out/report.json" --markdown > "$out/compare.md" || status=$?
cat "$out/compare.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { cat "$out/report.md"; echo; cat "$out/compare.md"; } >> "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
