"""A checkpoint becomes a plain network in eval mode, or a clear error says why it cannot."""

import pytest
import torch
from export_fixtures import save_checkpoint

from seqconv.errors import ConfigError, DataError
from seqconv.export import expected_model_class, load_run, real_batch
from seqconv.models import TCNForecaster, TimeSeriesCNN
from seqconv.training import CONFIG_KEY, PREPROCESSOR_KEY


def test_a_checkpoint_loads_into_the_plain_network(checkpoints):
    run = load_run(checkpoints("tcn"))
    assert isinstance(run.net, TCNForecaster) and not run.net.training
    assert run.model_name == "TCNForecaster" and run.domain == "forecasting"
    weights = torch.load(checkpoints("tcn"), weights_only=True)["state_dict"]
    torch.testing.assert_close(run.net.head.weight, weights["net.head.weight"])


@pytest.mark.parametrize(("model", "domain"), [("textcnn", "text"), ("audiocnn", "audio"), ("tscnn", "forecasting")])
def test_the_domain_is_declared_by_the_stored_preprocessor(checkpoints, model, domain):
    run = load_run(checkpoints(model))
    assert run.domain == domain == run.preprocessor.domain


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"definitely not a zip file")
    with pytest.raises(ConfigError, match="junk.ckpt' is not a readable PyTorch checkpoint"):
        load_run(junk)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(ConfigError, match="is not a seqconv training checkpoint"):
        load_run(plain)
    with pytest.raises(ConfigError, match="no such file"):
        load_run(tmp_path / "missing.ckpt")
    older = tmp_path / "older.ckpt"  # a run config but no stored preprocessor: written before it was stored
    torch.save({CONFIG_KEY: {"model": {}}, "seqconv_data_state": {}}, older)
    with pytest.raises(ConfigError, match="did not store the fitted preprocessor.*retrain"):
        load_run(older)


def test_weights_of_another_model_than_the_config_says(checkpoints, tmp_path):
    tcn = torch.load(checkpoints("tcn"), weights_only=True)
    other = TimeSeriesCNN(1, 30)
    mixed = save_checkpoint(tmp_path / "mixed.ckpt", tcn[CONFIG_KEY], tcn[PREPROCESSOR_KEY], other)
    with pytest.raises(ConfigError, match=r"weights do not fit the TCNForecaster.*missing \['head.bias'"):
        load_run(mixed)


def test_expect_model_refuses_another_model(checkpoints):
    assert expected_model_class("tcn") == "TCNForecaster" and expected_model_class("TextCNN") == "TextCNN"
    assert load_run(checkpoints("tcn"), expect_model="tcn").model_name == "TCNForecaster"
    with pytest.raises(ConfigError, match="holds a TCNForecaster .*expect_model='tscnn' asks for TimeSeriesCNN"):
        load_run(checkpoints("tcn"), expect_model="tscnn")


def test_real_batch_needs_the_data(checkpoints, tmp_path):
    run = load_run(checkpoints("tcn"))
    assert real_batch(run, max_rows=5).shape == (5, 1, 30)
    with pytest.raises(DataError, match="set real_inputs=false"):
        real_batch(run, {"path": str(tmp_path / "gone.csv")})
