#!/usr/bin/env bash
# Sets up and runs every test of every test project, then prints one summary line, last:
#   Tests: N passed, N failed, N skipped
# Exits non-zero when anything failed (a failing test, a build error, a crashed test host).
set -uo pipefail
cd "$(dirname "$0")/.."

eng/setup.sh || exit 1
eng/build.sh || exit 1

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"

echo "test: dotnet test Geo.sln -c Release"
# A hung test fails the run after 10 minutes instead of eating the CI budget.
dotnet test Geo.sln -c Release --no-build -nologo \
  --logger trx --logger "console;verbosity=minimal" \
  --results-directory "$results" \
  --blame-hang-timeout 10m --blame-hang-dump-type none
status=$?

passed=0; failed=0; skipped=0; files=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  total=$(get total); p=$(get passed); f=$(( $(get failed) + $(get error) + $(get timeout) + $(get aborted) ))
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + total - p - f))
done

projects=$(dotnet sln Geo.sln list | grep -cE '\.(Integration)?Tests\.csproj$')
if [ "$files" -lt "$projects" ]; then
  echo "test: only $files of $projects test projects reported results (a test host crashed or did not start)"
  [ "$status" -ne 0 ] || status=1
fi
if [ "$passed" -eq 0 ]; then
  echo "test: no test passed"
  [ "$status" -ne 0 ] || status=1
fi
[ "$failed" -eq 0 ] || [ "$status" -ne 0 ] || status=1

echo "Tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
