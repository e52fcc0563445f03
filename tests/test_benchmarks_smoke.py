"""The benchmark script must keep running: its cheapest measure, end to end, as a subprocess.

No timing is asserted (speed targets live in the benchmark itself); only that the run completes,
prints the table, and writes Markdown and JSON results with real numbers in them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"


def test_quick_startstop_run_writes_results(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--only",
            "startstop",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # the script must not depend on the working directory
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| measure | flakymirror | distribution | ratio | target | verdict |" in proc.stdout
    data = json.loads((tmp_path / "latest.json").read_text())
    rows = {r["measure"].split(" (")[0]: r for r in data["results"]}
    row = rows["Registry start()+stop()"]
    assert row["error"] is None
    assert row["unit"] == "ms" and row["flakymirror"] > 0
    assert row["verdict"] in ("PASS", "MISS")
    assert data["meta"]["mode"] == "quick" and data["meta"]["measures"] == ["startstop"]
    assert "Registry start()+stop()" in (tmp_path / "latest.md").read_text()


def test_unknown_measure_is_rejected_by_name(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--only",
            "startstop,warp",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "warp" in proc.stderr and "startstop" in proc.stderr
    assert not (tmp_path / "latest.json").exists()


def test_markdown_table_verdicts() -> None:
    from benchmarks.report import Row, at_least, at_most, markdown

    rows = [
        Row("fast", "req/s", 300.0, 100.0, at_least(1.5)),
        Row("slow", "req/s", 120.0, 100.0, at_least(1.5)),
        Row("startstop", "ms", 7.0, target=at_most(5, "ms")),
        Row("broken", "", None, error="boom"),
    ]
    table = markdown(rows)
    assert [r.verdict for r in rows] == ["PASS", "MISS", "MISS", "ERROR"]
    assert rows[0].ratio == 3.0
    assert "| fast | 300.0 req/s | 100.0 req/s | 3.00× | ≥ 1.5× distribution | PASS |" in table
    assert "error: boom" in table


def test_startup_rows_time_each_command_and_a_page_is_written(tmp_path: Path) -> None:
    page = tmp_path / "docs" / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--only", "startup"]
        + ["--results-dir", str(tmp_path), "--page", str(page)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "latest.json").read_text())
    measures = [r["measure"] for r in data["results"]]
    assert [m.split(" (")[0] for m in measures] == [
        "flakymirror --help",
        "flakymirror scenarios",
        "flakymirror replay of one scenario",
        "flakymirror replay of the whole library",
    ]
    assert all(r["error"] is None and r["flakymirror"] > 0 for r in data["results"])
    assert page.read_text() == (tmp_path / "latest.md").read_text()


def test_the_xdist_measure_runs_only_when_named():
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import parse_only

    assert "xdist" not in parse_only(None)
    assert parse_only(["xdist"]) == ["xdist"]
