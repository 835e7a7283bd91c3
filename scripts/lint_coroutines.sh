#!/usr/bin/env bash
# Enforces the g++ 12 coroutine rule (docs/architecture.md): no temporary with a non-trivial
# destructor inside a co_await expression, and no awaitable operators. g++ 12 destroys such
# temporaries twice; ASan misses the RAII cases. Name the value in a local first.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  # Join each co_await expression up to its ';' (or ')' of a condition) and check its text.
  out=$(awk -v file="$file" '
    function check(expr, line) {
      bad = ""
      if (expr ~ /\[[^]\[]*\][ \t]*(\(|\{|mutable)/) bad = "a lambda"
      else if (expr ~ /"/) bad = "a string literal (a temporary std::string)"
      else if (expr ~ /std::(string|function|vector|map|shared_ptr|unique_ptr)[ \t]*[({<]/) bad = "a constructed std:: object"
      else if (expr ~ /(fmt::format|std::to_string|std::make_(shared|unique))[ \t]*\(/) bad = "a temporary from a call that builds one"
      else if (expr ~ /co_await[ \t]*\(.*(\|\||&&)/) bad = "awaitable operators"
      if (bad != "") { printf "%s:%d: %s inside a co_await expression: %s\n", file, line, bad, expr; found = 1 }
    }
    {
      text = $0
      sub(/\/\/.*$/, "", text)
      if (collecting) {
        expr = expr " " text
        if (text ~ /;/ || text ~ /\)[ \t]*\{?[ \t]*$/) { check(expr, start); collecting = 0 }
        next
      }
      idx = index(text, "co_await ")
      if (idx > 0) {
        expr = substr(text, idx)
        start = NR
        if (expr ~ /;/ || expr ~ /\)[ \t]*\{?[ \t]*$/) check(expr, start)
        else collecting = 1
      }
    }
    END { exit found }' "$file") || { echo "$out"; status=1; }
done < <(find src app -name '*.cpp' -o -name '*.hpp' | sort)
if [[ $status -eq 0 ]]; then echo "lint_coroutines: ok"; fi
exit $status
