"""The README stays in step with the code: its operator table lists exactly the registered operators."""
from __future__ import annotations

import re

from microinterp.model import BUILTIN_OP_NAMES
from microinterp.ops import CUSTOM_REGISTRY, REGISTRY

from conftest import ROOT


def test_operator_table_lists_every_registered_operator_with_live_cases():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- op-table:begin -->")[1].split("<!-- op-table:end -->")[0]
    rows = re.findall(r"^\| ([A-Z0-9_]+|CUSTOM\([A-Za-z0-9_.-]+\)) \| (.+?) \| (\d+) \|$", table, re.M)
    registered = [BUILTIN_OP_NAMES[c] for c in REGISTRY] + [f"CUSTOM({name})" for name in CUSTOM_REGISTRY]
    assert sorted(r[0] for r in rows) == sorted(registered), \
        "README operator table is stale: run python tools/update_op_table.py"
    assert all(int(cases) > 0 for _, _, cases in rows), "an operator without a live comparison"
