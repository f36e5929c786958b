"""Config mistakes fail before any data loads; seeded deterministic runs repeat exactly; secrets stay out."""

import pytest

pytestmark = pytest.mark.slow

# a data path that does not exist: if the data were read first, the error would be about the file
NO_DATA = "data.path=/nonexistent/prices.csv"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (["model.net.dropout=1.5"], "dropout must be in [0, 1), got 1.5"),
        (["model.net.dropout=-0.1"], "dropout must be in [0, 1), got -0.1"),
        (["model.net.kernel_size=50", "data.window=30"], "kernel_size=50 is larger than the window input_length=30"),
        (["model.net.groups=5"], "groups=5 must divide in_channels=64 and out_channels=128"),
        (["model.net.act=swishh"], "unknown activation act='swishh'"),
        (["model.net.norm=instance"], "unknown normalization norm='instance'"),
        (["model=tcn", "model.net.norm=group"], "would let the future leak"),
        (["data.horizon=0"], "data.window and data.horizon must be >= 1"),
    ],
    ids=["dropout>1", "dropout<0", "kernel>window", "groups", "act", "norm", "causal-group-norm", "horizon"],
)
def test_config_mistakes_fail_before_loading_data(run_in_process, overrides, fragment):
    run = run_in_process("train.py", NO_DATA, *overrides)
    assert run.proc.returncode == 2, run.output
    assert fragment in run.proc.stderr
    assert "nonexistent" not in run.proc.stderr  # the data was never touched
    assert "Traceback" not in run.output


@pytest.mark.parametrize("model", ["tscnn", "tcn"])
def test_seeded_deterministic_runs_give_identical_metrics(run_entry, model):
    runs = [
        run_entry("train.py", f"model={model}", "debug=limit", "seed=7", "trainer.deterministic=true") for _ in range(2)
    ]
    for run in runs:
        assert run.proc.returncode == 0, run.output
    first, second = ({k: v for k, v in run.metrics.items() if k.startswith(("test/", "val/"))} for run in runs)
    assert first == second and "test/mse" in first


@pytest.mark.parametrize("logger", ["csv", "wandb"])
def test_api_keys_in_the_environment_never_reach_the_run_dir(run_entry, monkeypatch, logger):
    secret = "sk-seqconv-test-0123456789abcdef"
    for name in ("HF_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, secret)
    if logger == "wandb":  # a key W&B must not copy into its config or files (kept offline: nothing is sent)
        monkeypatch.setenv("WANDB_API_KEY", secret)
        monkeypatch.setenv("WANDB_MODE", "offline")
    run = run_entry("train.py", "debug=limit", f"logger={logger}")
    assert run.proc.returncode == 0, run.output
    assert secret not in run.output
    for path in run.run_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
