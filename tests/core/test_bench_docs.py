"""`manage.py bench` rewrites docs/performance.md's blocks: empty ones too, and only its own."""

from orchestrator.core.management.commands.bench import write_docs

DOC = """# Performance
<!-- bench:scale_runs -->
<!-- /bench:scale_runs -->
between
<!-- bench:ingest -->
old figures
<!-- /bench:ingest -->
"""
RESULT = {
    "curve": [
        {"steps": 10, "runs": 2, "api_failed": {"p50_ms": 1, "p95_ms": 2},
         "api_succeeded": {"p50_ms": 3, "p95_ms": 4}}
    ],
    "prune": {"runs": 1, "steps": 4, "seconds": 0.1},
    "load_average": [1.5, 2.0, 2.5],
}  # fmt: skip


def test_an_empty_block_is_filled_and_written_again_in_place(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(DOC)
    outcome = {"name": "scale_runs", "result": RESULT}
    assert write_docs(doc, [outcome]) == 1
    first = doc.read_text()
    assert "load average 1.5 / 2.0 / 2.5" in first
    assert "| 10 | 2 |" in first
    assert "old figures" in first and first.endswith("<!-- /bench:ingest -->\n")
    assert write_docs(doc, [outcome]) == 1
    assert doc.read_text().count("| 10 | 2 |") == 1


def test_a_benchmark_without_a_result_leaves_the_doc_alone(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(DOC)
    assert write_docs(doc, [{"name": "ingest", "result": None}]) == 0
    assert doc.read_text() == DOC
