"""The hostile-input set cannot silently lose a case.

Every case number 1-80 of HOSTILE-INPUTS.md section 3 is in
tests/data/hostile/cases.toml, every entry there is run by a test, and every
row of section 1 (Tornado's security history) points at cases that exist.
When the design notes are next to the checkout (../shared/HOSTILE-INPUTS.md),
their case numbers and CVE/GHSA ids are compared with the table too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_hostile_checks
import test_hostile_wire
from hostiletools import decode, load

TABLE = load()
CASES = TABLE["case"]
KINDS = {"http", "ws", "slow", "check"}
DOC = Path(__file__).resolve().parents[3] / "shared" / "HOSTILE-INPUTS.md"


def test_every_numbered_case_is_in_the_table():
    numbers = {c["n"] for c in CASES}
    assert set(range(1, 81)) <= numbers, sorted(set(range(1, 81)) - numbers)
    assert numbers <= set(range(0, 81))  # 0: a section-1 trigger without a number


def test_ids_are_unique_and_entries_complete():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        kind = c.get("kind", "http")
        assert kind in KINDS, c["id"]
        assert c["source"], c["id"]
        assert c["id"].startswith("%d-" % c["n"]) or c["n"] == 0, c["id"]
        if kind == "check":
            assert c["how"] and c["check"], c["id"]
        else:
            assert "expect" in c, c["id"]
        if kind in ("http", "slow"):
            decode(c["send"])  # the notation is valid
        if "vary" in c:
            assert "@@" in c["send"], c["id"]


def test_every_case_has_a_test():
    wire = {cid.split("[")[0] for cid, _, _ in
            test_hostile_wire.HTTP_CASES + test_hostile_wire.WS_CASES
            + test_hostile_wire.SLOW_CASES}
    for c in CASES:
        if c.get("kind", "http") == "check":
            fn = getattr(test_hostile_checks, c["check"], None)
            assert callable(fn) and c["check"].startswith("test_"), c["id"]
        else:
            assert c["id"] in wire, c["id"]
    for n in range(1, 81):
        assert any(c["n"] == n for c in CASES), n


def test_every_trigger_points_at_cases():
    ids = {c["id"] for c in CASES}
    for t in TABLE["trigger"]:
        assert t["ids"] and t["what"], t
        if t.get("client_only"):
            assert t["cases"] == []
            continue
        assert t["cases"], t
        assert set(t["cases"]) <= ids, set(t["cases"]) - ids


@pytest.mark.skipif(not DOC.exists(), reason="../shared/HOSTILE-INPUTS.md is not next to the checkout")
def test_table_matches_the_design_notes():
    text = DOC.read_text(encoding="utf-8")
    section1 = text.split("## 1.", 1)[1].split("## 2.", 1)[0]
    section3 = text.split("## 3.", 1)[1].split("## 4.", 1)[0]
    numbers = {int(m) for m in re.findall(r"^(\d+)\. ", section3, re.M)}
    assert numbers == set(range(1, 81))
    assert numbers <= {c["n"] for c in CASES}
    doc_ids = set(re.findall(r"\b(?:CVE-\d{4}-\d+|GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})\b",
                             section1))
    table_ids = {i for t in TABLE["trigger"] for i in t["ids"]}
    assert doc_ids <= table_ids, sorted(doc_ids - table_ids)
    # Each table row (release + ids) has a trigger entry: compare the row count.
    rows = [ln for ln in section1.splitlines() if ln.startswith("| ") and not ln.startswith(
        ("| Fixed", "|---"))]
    assert len([t for t in TABLE["trigger"] if not t.get("client_only")]) >= len(rows)
