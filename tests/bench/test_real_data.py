"""The real-data goal rows: not run without a source; with one, the whole train.py process from a download."""

import zipfile

from seqconv.bench.measure import Context
from seqconv.bench.real_data import GOALS, _source_overrides, run
from seqconv.bench.workloads import Workloads, write_fsdd

TOP = "free-spoken-digit-dataset-1.0.10"


def test_without_a_source_each_goal_row_says_it_was_not_run(tmp_path):
    rows = run(Context(tmp_path, quick=True), Workloads(Context(tmp_path, quick=True)))
    assert [r.case.split(" ")[0] for r in rows] == list(GOALS)
    for row, option in zip(rows, ("--imdb", "--fsdd"), strict=True):
        assert row.seqconv == "not run" and row.met is None and option in row.note
    assert not (tmp_path / "real_data").exists()


def test_sources_map_to_the_data_configs_keys():
    assert _source_overrides("default") == []
    assert _source_overrides("https://ai.stanford.edu/x.tar.gz") == ["data.url=https://ai.stanford.edu/x.tar.gz"]
    assert _source_overrides("http://127.0.0.1:8000/v.zip") == [
        "data.url=http://127.0.0.1:8000/v.zip",
        "data.sha256=null",
    ]
    assert _source_overrides("/data/aclImdb") == ["data.path=/data/aclImdb"]


def test_the_digits_row_times_the_whole_process_from_a_fresh_download(tmp_path, http_server):
    tree = write_fsdd(tmp_path / "fsdd", speakers=2, per_digit=6)
    with zipfile.ZipFile(http_server.root / "v1.0.10.zip", "w") as zf:
        for wav in sorted((tree / "recordings").glob("*.wav")):
            zf.write(wav, f"{TOP}/recordings/{wav.name}")
    ctx = Context(tmp_path / "out", quick=True, sources={"fsdd": http_server.url("v1.0.10.zip")})
    rows = {r.case.split(" ")[0]: r for r in run(ctx, Workloads(ctx))}
    digits = rows["digits"]
    assert http_server.requests == ["/v1.0.10.zip"]  # downloaded into the run's own empty data dir
    assert digits.data["seconds"] > 0 and 0 <= digits.data["metrics"]["test/acc"] <= 1
    assert digits.seqconv.startswith(f"{digits.data['metrics']['test/acc']:.3f} in ")
    assert "majority" in digits.reference and digits.met is (
        digits.data["metrics"]["test/acc"] >= 0.99 and digits.data["seconds"] <= 60
    )
    assert rows["reviews"].seqconv == "not run"
