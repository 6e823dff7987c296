#!/usr/bin/env bash
# Runs clang-tidy (the repo's .clang-tidy: naming and a few bug-prone checks) over the given
# files, or every .cc under kernel/ and host/. Needs a configured build/ (compile_commands.json).
# Slow (minutes on 2 cores), so it is a developer tool, not part of the test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find kernel/src host/src -name '*.cc' | sort); fi
clang-tidy -p build --quiet "${files[@]}"
