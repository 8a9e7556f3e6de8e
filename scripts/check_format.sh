#!/usr/bin/env bash
# Fails when a C or C++ file of src/ or include/ differs from what
# clang-format (.clang-format) makes of it. Fix with: scripts/check_format.sh --fix
set -euo pipefail
cd "$(dirname "$0")/.."
mode=(--dry-run -Werror)
[[ "${1:-}" == "--fix" ]] && mode=(-i)
mapfile -d '' files < <(find src include \( -name '*.h' -o -name '*.cc' -o -name '*.hpp' \) -print0)
clang-format-14 "${mode[@]}" "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
