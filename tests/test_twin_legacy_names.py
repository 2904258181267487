"""The rate twin's rates were renamed ``tau_*`` -> ``rate_*``: what was saved with the old names still works.

Old configurations (``TwinConfig.from_dict``, ``TaskNetConfig(twin={...})``), old state dicts
(``tau_u_logit``...), version-1 twin files and the shipped checkpoints in ``models/data`` load into
the same model. The version-1 files in ``tests/data`` were written by the code before the rename
(commit c300afd), with ``twin_v1_outputs.pt`` holding an input and that code's output for each.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from neuromod.errors import InputError
from neuromod.models import GateConfig, GatedPlasticRNN, GatedPlasticRNNCell, TaskNet, TwinConfig, load_twin, read_twin, save_twin
from neuromod.models.gated_rnn import LEGACY_PARAMETER_NAMES
from neuromod.models.twin_config import LEGACY_NAMES
from neuromod.models.twin_io import TWIN_VERSION

DATA = Path(__file__).resolve().parent / "data"
SHIPPED = sorted((Path(__file__).resolve().parents[1] / "models" / "data").glob("task_*.pt"))
OLD_OPTIONS = dict(rule="modulated", tau_u_shape="neuron", tau_u_init=0.2, tau_e=0.6, tau_E=0.25, learn_rule=True)
NEW_OPTIONS = dict(rule="modulated", rate_u_shape="neuron", rate_u_init=0.2, rate_e=0.6, rate_E=0.25, learn_rule=True)
LEGACY_NAMES_BACK = {new: old for old, new in LEGACY_NAMES.items()}


def _old_names(state_dict: dict) -> dict:
    """A state dict as the code before the rename wrote it."""
    back = {new: old for old, new in LEGACY_PARAMETER_NAMES.items()}
    out = {}
    for key, value in state_dict.items():
        prefix, _, name = key.rpartition(".")
        out[(prefix + "." if prefix else "") + back.get(name, name)] = value
    return out


def test_old_config_keys_map_to_the_new_ones():
    new = TwinConfig(3, 5, **NEW_OPTIONS)
    old_dict = {LEGACY_NAMES_BACK.get(k, k): v for k, v in new.to_dict().items()}
    assert "tau_u_init" in old_dict and "rate_u_init" not in old_dict
    assert TwinConfig.from_dict(old_dict) == new
    assert TwinConfig.from_dict(new.to_dict()) == new
    assert set(new.to_dict()) >= {"rate_u_init", "rate_u_shape", "rate_plus", "rate_minus", "rate_e", "rate_E"}
    assert not any(k.startswith("tau") for k in new.to_dict())
    with pytest.warns(DeprecationWarning, match="'tau_u_init' is now called 'rate_u_init'"):
        assert TwinConfig(3, 5, **OLD_OPTIONS) == new
    with pytest.warns(DeprecationWarning):
        assert GatedPlasticRNN(3, 5, **OLD_OPTIONS).config == new
    with pytest.warns(DeprecationWarning):
        assert GatedPlasticRNN(config=TwinConfig(3, 5), tau_u_init=0.3).config.rate_u_init == 0.3
    with pytest.raises(InputError, match="'tau_e' is the old name of 'rate_e'"):
        TwinConfig.from_dict({"input_size": 3, "hidden_size": 5, "tau_e": 0.5, "rate_e": 0.5})
    with pytest.raises(InputError, match="unknown rate-twin configuration keys"):
        TwinConfig.from_dict({"input_size": 3, "hidden_size": 5, "tau_x": 0.5})


def test_task_net_accepts_the_old_twin_keys_silently():
    """``protocols.training`` still passes ``tau_u_init`` in ``twin``: no warning, the same network."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = TaskNet(n_inputs=3, n_outputs=2, hidden_size=5, twin={"rule": "plain", "tau_u_init": 0.3, "clip": None})
    new = TaskNet(n_inputs=3, n_outputs=2, hidden_size=5, twin={"rule": "plain", "rate_u_init": 0.3, "clip": None})
    assert old.rnn.config == new.rnn.config and old.rnn.config.rate_u_init == 0.3


@pytest.mark.parametrize("rule", ["plain", "modulated"])
def test_an_old_state_dict_loads(rule):
    torch.manual_seed(0)
    options = dict(rule=rule, learn_rule=True, rate_u_shape="neuron")
    if rule == "modulated":
        options["gate_s"] = GateConfig("learned", "neuron", 0.4)
    model = GatedPlasticRNN(3, 5, **options)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    old = _old_names(model.state_dict())
    assert "cell.tau_u_logit" in old and "cell.rate_u_logit" not in old
    fresh = GatedPlasticRNN(3, 5, **options)
    fresh.load_state_dict(old)  # strict: every old key must find its parameter
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
    cell = GatedPlasticRNNCell(TwinConfig(3, 5, **options))
    cell.load_state_dict(_old_names(model.cell.state_dict()))
    assert torch.equal(cell.rate_u_logit, model.cell.rate_u_logit)
    x = torch.randn(6, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x)[0], model(x)[0], rtol=0, atol=0)
    net = TaskNet(n_inputs=3, n_outputs=2, hidden_size=5, twin={"rule": rule, "learn_rule": True})
    saved = _old_names(net.state_dict())
    assert "rnn.cell.tau_u_logit" in saved
    again = TaskNet.from_checkpoint({"config": net.config.to_dict(), "state_dict": saved})
    assert torch.equal(again.rnn.cell.rate_u_logit, net.rnn.cell.rate_u_logit)


@pytest.mark.parametrize("name", ["twin_v1_plain.pt", "twin_v1_modulated.pt"])
def test_a_version_1_twin_file_loads_and_gives_the_old_outputs(name, tmp_path):
    expected = torch.load(DATA / "twin_v1_outputs.pt", weights_only=True)[name]
    raw = torch.load(DATA / name, weights_only=True)
    assert raw["version"] == 1 and "tau_u" in raw["effective"] and "tau_u_logit" in raw["state_dict"]
    model = load_twin(DATA / name)
    with torch.no_grad():
        h, _ = model(expected["x"])
    torch.testing.assert_close(h, expected["h"], rtol=0, atol=0)
    data = read_twin(DATA / name)
    assert data["version"] == TWIN_VERSION == 2
    for old, new in (("tau_u", "rate_u"), ("tau_plus", "rate_plus"), ("tau_minus", "rate_minus"),
                     ("tau_e", "rate_e"), ("tau_E", "rate_E")):
        assert old not in data["effective"]
        if old in raw["effective"]:
            assert torch.equal(data["effective"][new], raw["effective"][old])
    assert "tau_u_init" not in data["config"] and data["config"]["rate_u_init"] == raw["config"]["tau_u_init"]
    # saved again, it is a version-2 file with the same model
    again = load_twin(save_twin(tmp_path / "v2.pt", model))
    assert torch.load(tmp_path / "v2.pt", weights_only=True)["version"] == 2
    with torch.no_grad():
        torch.testing.assert_close(again(expected["x"])[0], expected["h"], rtol=0, atol=0)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoints_keep_their_values_and_order(path):
    """The checkpoints in models/data hold the old names; they load with every value in place, and
    the parameter order (what an optimizer's saved state is indexed by) is unchanged."""
    data = torch.load(path, weights_only=True)["net"]
    net = TaskNet.from_checkpoint(data)
    renamed = [key.rpartition(".")[0] + "." + LEGACY_PARAMETER_NAMES.get(key.rpartition(".")[2], key.rpartition(".")[2])
               for key in data["state_dict"]]
    assert renamed == list(net.state_dict())
    for old_key, new_key in zip(data["state_dict"], renamed):
        assert torch.equal(data["state_dict"][old_key], net.state_dict()[new_key]), old_key
    if data["config"]["cell"] == "plastic":
        assert "rnn.cell.tau_u_logit" in data["state_dict"]
        rate_u = net.rnn.cell.effective_params().rate_u
        torch.testing.assert_close(rate_u, torch.sigmoid(data["state_dict"]["rnn.cell.tau_u_logit"]), rtol=0, atol=0)


def test_a_garbage_twin_file_is_one_line(tmp_path):
    import os

    from neuromod.errors import InputError
    from neuromod.models.twin_io import load_twin

    bad = tmp_path / "twin.pt"
    bad.write_bytes(os.urandom(300))
    with pytest.raises(InputError) as caught:
        load_twin(bad)
    assert "is not a neuromod twin file" in str(caught.value) and "\n" not in str(caught.value)


def test_a_saved_twin_follows_the_umask(tmp_path):
    import os

    from neuromod.models import GatedPlasticRNN, save_twin

    saved = os.umask(0o022)
    try:
        path = save_twin(tmp_path / "twin.pt", GatedPlasticRNN(2, 3))
    finally:
        os.umask(saved)
    assert path.stat().st_mode & 0o777 == 0o644
