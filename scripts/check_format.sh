#!/usr/bin/env bash
# Fails (and lists the files) if any C++ source differs from what .clang-format asks for.
# Run by the test suite (ctest -R style); fix with: clang-format -i FILES.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mapfile -t files < <(find kernel host tests benchmarks sdk plugins -name '*.cc' -o -name '*.h' 2>/dev/null | sort)
bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ "${#bad[@]}" -gt 0 ]; then
  echo "clang-format: ${#bad[@]} file(s) not formatted: ${bad[*]}" >&2
  echo "fix with: clang-format -i ${bad[*]}" >&2
  exit 1
fi
echo "clang-format: ${#files[@]} files formatted"
