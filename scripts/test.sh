#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then runs lint, types, the import contract and the whole test suite,
# PostgreSQL included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

PG_URL=${BADGEWATCH_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/test}
if ! .venv/bin/python - "$PG_URL" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1].replace("postgresql://", "postgresql://", 1), connect_timeout=5).close()
except Exception as exc:
    print(f"PostgreSQL is not reachable at {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
PY
then
  echo "the PostgreSQL tests cannot run: start PostgreSQL (127.0.0.1:5432) and try again" >&2
  exit 1
fi

.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports  # the layers and forbidden imports of pyproject.toml [tool.importlinter]
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
