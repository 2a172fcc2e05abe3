"""Regenerate the README's operator table from the op registry and a live run of the test suite.

    python tools/update_op_table.py            # runs the suite with coverage recording, rewrites README.md

Each row: a registered operator, the data types the suite compared live with an official interpreter
(tflite-micro, or LiteRT where TFLM lacks the op/type), and how many operator instances were compared.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- op-table:begin -->", "<!-- op-table:end -->"


def render(rows: list[dict], registered: list[str]) -> str:
    """The markdown table: every registered op, its live-tested dtypes and case counts."""
    by_op: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for r in rows:
        by_op[r["op"]][r["dtypes"]] = r["cases"]
    lines = ["| operator | data types compared live | cases |", "|---|---|---|"]
    for op in sorted(registered):
        kinds = by_op.get(op, {})
        types = ", ".join(sorted(kinds)) or "(none)"
        lines.append(f"| {op} | {types} | {sum(kinds.values())} |")
    return "\n".join(lines)


def registered_ops() -> list[str]:
    """Builtin op names, and custom ops as CUSTOM(name) (how the model loader names them)."""
    sys.path.insert(0, str(ROOT))
    from microinterp.model import BUILTIN_OP_NAMES
    from microinterp.ops import CUSTOM_REGISTRY, REGISTRY
    return [BUILTIN_OP_NAMES[code] for code in REGISTRY] + [f"CUSTOM({name})" for name in CUSTOM_REGISTRY]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        env = dict(os.environ, MICROINTERP_OP_COVERAGE=str(out))
        # The README check itself is left out: it reads the table being regenerated.
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--deselect", "tests/test_readme.py"], cwd=ROOT, env=env,
                       check=True)
        rows = json.loads(out.read_text())
    readme = (ROOT / "README.md").read_text()
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    (ROOT / "README.md").write_text(f"{head}{BEGIN}\n{render(rows, registered_ops())}\n{END}{tail}")
    print(f"README.md: operator table updated ({len(rows)} op/type rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
