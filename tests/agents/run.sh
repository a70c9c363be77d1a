#!/usr/bin/env bash
# The real agent CLIs end to end (tests/agents/test_agents.py): Codex, Claude Code and Gemini CLI
# through the gateway to a fake provider of each type. Installs the CLIs at the versions pinned in
# tests/agents/package-lock.json (npm ci, integrity-checked) into $PLEXUS_AGENTS_DIR (default
# tests/agents, whose node_modules/ git ignores), then runs the tests, everything bounded in time.
# Needs Node.js >= 20 and npm, and the test venv (.venv, or $PYTHON).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/agents
dir=${PLEXUS_AGENTS_DIR:-$PWD/$here}
py=${PYTHON:-.venv/bin/python}

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || { echo "tests/agents/run.sh: needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2; exit 1; }

# npm ci reinstalls from scratch; skip it when this exact lock file is already installed
stamp=$dir/node_modules/.plexus-lock
if ! cmp -s "$here/package-lock.json" "$stamp"; then
    mkdir -p "$dir"
    [ "$dir" -ef "$here" ] || cp "$here/package.json" "$here/package-lock.json" "$dir/"
    timeout 300 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    cp "$here/package-lock.json" "$stamp"
fi
for cli in codex claude gemini; do
    echo "$cli: $(timeout 30 "$dir/node_modules/.bin/$cli" --version </dev/null 2>/dev/null | head -1)"
done

# each CLI run has its own timeout in the tests; this bounds the whole (Codex retries for ever
# when it cannot reach the gateway)
PLEXUS_AGENTS_DIR=$dir timeout 600 "$py" -m pytest -m agents -rxX "$here" "$@"
