"""Rate twin (neuromod.models.gated_rnn): exactness against the equations, switches, gradients, I/O.

The reference below is written straight from DESIGN.md ("Rate twin"), one sample at a time with
``torch.outer``, independently of the package's code; every implementation (``reference``,
``checkpoint``, ``fused``) must match it at every step in float64 to 1e-10.
"""

from __future__ import annotations

import math

import pytest
import torch

from neuromod.models import GateConfig, GatedPlasticRNN, GatedPlasticRNNCell, TwinState, load_twin, read_twin, save_twin
from neuromod.models.gated_rnn import TwinSwitches, twin_sequence

TOL = dict(rtol=1e-10, atol=1e-10)
T, B, I, N = 7, 2, 3, 5

CONFIGS = {
    "plain": dict(rule="plain"),
    "plain-neuron": dict(rule="plain", alpha_shape="neuron", rate_u_shape="neuron", a_minus=0.6, rate_minus=0.3),
    "plain-synapse": dict(rule="plain", alpha_shape="synapse"),
    "plain-clip": dict(rule="plain", alpha_shape="neuron", clip=0.35),
    "plain-ct": dict(rule="plain", continuous_time=True, ct_rate=0.3),
    "plain-learned": dict(rule="plain", learn_rule=True),
    "mod": dict(rule="modulated"),
    "mod-units-neuron": dict(rule="modulated", gate_M=GateConfig("unit", "neuron"), gate_s=GateConfig("unit", "neuron"),
                             gate_r=GateConfig("unit", "neuron")),
    "mod-learned": dict(rule="modulated", rate_u_shape="neuron", alpha_shape="neuron", learn_rule=True,
                        gate_M=GateConfig("learned", "neuron", 0.7), gate_s=GateConfig("learned", "scalar", 0.6),
                        gate_r=GateConfig("learned", "neuron", 0.4)),
    "mod-fixed": dict(rule="modulated", gate_M=GateConfig("fixed", "scalar", -0.8),
                      gate_s=GateConfig("fixed", "neuron", 0.5), gate_r=GateConfig("fixed", "scalar", 0.7)),
    "mod-ct-units": dict(rule="modulated", continuous_time=True, gate_s=GateConfig("unit", "scalar"),
                         gate_r=GateConfig("unit", "scalar")),
    "mod-synapse-clip": dict(rule="modulated", alpha_shape="synapse", clip=0.3, gate_s=GateConfig("unit", "neuron")),
}
FUSED_CONFIGS = [name for name, cfg in CONFIGS.items() if cfg.get("alpha_shape") != "synapse" and "clip" not in cfg]
SWITCHES = {
    "default": {},
    "alpha_off": {"alpha_off": True},
    "plasticity_off": {"plasticity_off": True},
    "freeze": {"freeze_fast_weights": True},
}


# --------------------------------------------------------------------------------------------------
# The test's own reference, from the equations
# --------------------------------------------------------------------------------------------------


def _gate(cell, g: str, h: torch.Tensor) -> torch.Tensor:
    """Gate value for one sample, as a length-N vector (scalars broadcast)."""
    gc = getattr(cell.config, f"gate_{g}")
    if gc.mode == "fixed":
        val = getattr(cell, f"gate_{g}_value")
    elif gc.mode == "learned":
        raw = getattr(cell, f"gate_{g}_raw")
        val = raw if g == "M" else torch.sigmoid(raw)
    else:
        unit = getattr(cell, f"gate_{g}_unit")
        pre = unit.weight @ h + unit.bias
        val = torch.tanh(pre) if g == "M" else torch.sigmoid(pre)
    return val.expand(h.shape[0]) if val.numel() == 1 else val


def equations_reference(model, x, state, *, alpha_off=False, plasticity_off=False):
    """Per-sample loop over the DESIGN.md equations; returns h, v, dU, E trajectories (T, B, ...)."""
    cell, cfg = model.cell, model.config
    n = cfg.hidden_size
    alpha = cfg.alpha_max * torch.tanh(cell.alpha_raw)
    A = alpha.view(n, n) if cfg.alpha_shape == "synapse" else alpha.view(-1, 1).expand(n, n)  # [post, pre]
    rate_u = torch.sigmoid(cell.rate_u_logit).view(-1, 1).expand(n, 1)
    out = {"h": [], "v": [], "dU": [], "E": []}
    for b in range(x.shape[1]):
        v, h, dU = state.v[b], state.h[b], state.dU[b]
        if cfg.rule == "plain":
            ep, em = state.e_plus[b], state.e_minus[b]
            tp, tm = torch.sigmoid(cell.rate_plus_logit), torch.sigmoid(cell.rate_minus_logit)
        else:
            e, E = state.e[b], state.E[b]
            te, tE = torch.sigmoid(cell.rate_e_logit), torch.sigmoid(cell.rate_E_logit)
        traj = {k: [] for k in out}
        for t in range(x.shape[0]):
            xt = x[t, b]
            if cfg.continuous_time:
                z = cfg.ct_rate
            else:
                z = torch.sigmoid(cell.weight_iz @ xt + cell.weight_hz @ h + cell.bias_z)
            W_rec = cell.weight_hh if alpha_off else cell.weight_hh + A * dU
            if cfg.clip is not None and not alpha_off:
                W_rec = W_rec.clamp(-cfg.clip, cfg.clip)
            v = (1 - z) * v + z * (cell.weight_ih @ xt + W_rec @ h + cell.bias)
            h = torch.relu(v)
            if cfg.rule == "plain":
                ep = (1 - tp) * ep + tp * h
                em = (1 - tm) * em + tm * h
                if not plasticity_off:
                    dU = (1 - rate_u) * dU + rate_u * (cell.a_plus * torch.outer(h, ep) - cell.a_minus * torch.outer(em, h))
            else:
                M, s, r = (_gate(cell, g, h) for g in "Msr")
                e = (1 - r * te) * e + r * te * h
                if not plasticity_off:
                    s_pair = torch.sqrt(torch.outer(s, s))  # geometric mean of post and pre induction gates
                    E = (1 - tE) * E + tE * s_pair * (torch.outer(h, e) - torch.outer(e, h))
                    dU = (1 - rate_u) * dU + rate_u * M.view(-1, 1) * E
                traj["E"].append(E)
            traj["h"].append(h)
            traj["v"].append(v)
            traj["dU"].append(dU)
        for k in out:
            if traj[k]:
                out[k].append(torch.stack(traj[k]))
    return {k: torch.stack(v, dim=1) for k, v in out.items() if v}


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def make_model(name: str, seed: int = 0, **extra) -> GatedPlasticRNN:
    torch.manual_seed(seed)
    model = GatedPlasticRNN(I, N, **CONFIGS[name], **extra).double()
    with torch.no_grad():  # move every parameter off its default so each one matters
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def random_state(model, batch: int = B, seed: int = 1) -> TwinState:
    g = torch.Generator().manual_seed(seed)
    st = model.initial_state(batch)
    st = TwinState(*[None if t is None else 0.2 * torch.rand(t.shape, generator=g, dtype=t.dtype) for t in st])
    if st.E is not None:
        st = st._replace(E=st.E - st.E.transpose(1, 2))
    return st


@pytest.fixture
def x():
    return torch.randn(T, B, I, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


def _impls(name):
    return ["reference", "checkpoint"] + (["fused"] if name in FUSED_CONFIGS else [])


# --------------------------------------------------------------------------------------------------
# Exactness, step by step
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize("name", CONFIGS)
def test_every_step_equals_the_equations(name, switch, x):
    model = make_model(name)
    for key, value in SWITCHES[switch].items():
        setattr(model, key, value)
    st = random_state(model)
    with torch.no_grad():
        ref = equations_reference(model, x, st, alpha_off=model.alpha_off, plasticity_off=model.plasticity_off)
        for impl in _impls(name):
            for chunk in ((3, 1, 100) if impl == "fused" else (3,)):
                h, final, rec = model(x, st, impl=impl, chunk_size=chunk, record=("v", "dU"))
                torch.testing.assert_close(h, ref["h"], **TOL)
                torch.testing.assert_close(rec["v"], ref["v"], **TOL)
                torch.testing.assert_close(rec["dU"], ref["dU"], **TOL)
                assert rec["dU_steps"] == list(range(T))
                torch.testing.assert_close(final.dU, ref["dU"][-1], **TOL)
                torch.testing.assert_close(final.v, ref["v"][-1], **TOL)
                if "E" in ref:
                    torch.testing.assert_close(final.E, ref["E"][-1], **TOL)


def test_cell_step_equals_layer_step(x):
    model = make_model("mod-units-neuron")
    st = random_state(model)
    with torch.no_grad():
        new = model.cell(x[0], st)
        h, final = model(x[:1], st, impl="reference")
    for a, b in zip(new, final):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["mod", "mod-units-neuron", "mod-fixed", "mod-learned"])
def test_eligibility_stays_antisymmetric(name, x):
    model = make_model(name)
    st = random_state(model)
    with torch.no_grad():
        for t in range(T):
            st = model.cell(x[t], st)
            torch.testing.assert_close(st.E, -st.E.transpose(1, 2), rtol=0, atol=1e-15)
            assert st.E.abs().max() > 0
        _, final = model(x, random_state(model), impl="fused")
    torch.testing.assert_close(final.E, -final.E.transpose(1, 2), rtol=0, atol=1e-15)


def plain_gated_rnn(model, x, v, h):
    """The same network with no fast weights at all: v = (1-z) v + z (W x + U h + b)."""
    c = model.cell
    hs = []
    for t in range(x.shape[0]):
        z = torch.sigmoid(x[t] @ c.weight_iz.T + h @ c.weight_hz.T + c.bias_z)
        v = (1 - z) * v + z * (x[t] @ c.weight_ih.T + h @ c.weight_hh.T + c.bias)
        h = torch.relu(v)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("name", ["plain", "plain-neuron", "plain-synapse", "mod-units-neuron"])
def test_alpha_zero_is_a_plain_gated_rnn(name, x):
    model = make_model(name)
    st = random_state(model)
    with torch.no_grad():
        expected = plain_gated_rnn(model, x, st.v, st.h)
        model.cell.alpha_raw.zero_()
        for impl in _impls(name):
            h, _ = model(x, st, impl=impl)
            torch.testing.assert_close(h, expected, **TOL)
        model.cell.alpha_raw.fill_(0.7)
        model.alpha_off = True
        h, _ = model(x, st)
        torch.testing.assert_close(h, expected, **TOL)


@pytest.mark.parametrize("name", ["plain", "mod-units-neuron"])
def test_plasticity_off_keeps_dU(name, x):
    model = make_model(name)
    model.plasticity_off = True
    st = random_state(model)
    with torch.no_grad():
        for impl in _impls(name):
            h, final, rec = model(x, st, impl=impl, record=("dU",))
            assert torch.equal(final.dU, st.dU)
            assert torch.equal(rec["dU"], st.dU.expand(T, -1, -1, -1))
            if final.E is not None:
                assert torch.equal(final.E, st.E)
        model.plasticity_off = False
        _, final = model(x, st)
        assert not torch.allclose(final.dU, st.dU)


# --------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------


def _grads(model, x, st, impl, chunk=3):
    model.zero_grad()
    xx = x.clone().requires_grad_()
    st = TwinState(*[None if t is None else t.clone().requires_grad_() for t in st])
    h, final = model(xx, st, impl=impl, chunk_size=chunk)
    weights = torch.linspace(-1, 1, N * N, dtype=x.dtype).view(N, N)
    loss = (h ** 2).sum() + (final.dU * weights).sum() + final.v.sum() + final.h.square().sum()
    if final.E is not None:
        loss = loss + (final.E * weights).sum()
    loss.backward()
    out = {n: p.grad for n, p in model.named_parameters()}
    out["x"] = xx.grad
    out.update({f"state.{k}": t.grad for k, t in zip(st._fields, st) if t is not None})
    return out


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize("name", FUSED_CONFIGS)
def test_fused_gradients_equal_autograd_through_the_reference(name, switch, x):
    model = make_model(name)
    for key, value in SWITCHES[switch].items():
        setattr(model, key, value)
    st = random_state(model)
    expected = _grads(model, x, st, "reference")
    for chunk in (3, 1, 100):
        got = _grads(model, x, st, "fused", chunk)
        for key, value in expected.items():
            value = torch.zeros_like(got[key]) if value is None and got[key] is not None else value
            g = torch.zeros_like(value) if got[key] is None and value is not None else got[key]
            if value is None:
                assert g is None, key
                continue
            torch.testing.assert_close(g, value, **TOL, msg=lambda m, key=key: f"{key}: {m}")
    if switch in ("freeze", "plasticity_off"):  # no gradient reaches rate_u: dU is a constant / frozen
        assert expected["cell.rate_u_logit"] is None or not expected["cell.rate_u_logit"].any()
    else:
        assert expected["cell.rate_u_logit"].abs().sum() > 0


@pytest.mark.parametrize("name", ["plain-synapse", "mod-synapse-clip"])
def test_checkpoint_gradients_equal_the_reference(name, x):
    model = make_model(name)
    st = random_state(model)
    expected = _grads(model, x, st, "reference")
    got = _grads(model, x, st, "checkpoint")
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, **TOL)


@pytest.mark.parametrize("name", ["plain-neuron", "mod-units-neuron", "mod-learned", "plain-ct"])
def test_fused_gradcheck(name):
    """gradcheck of the fused autograd Function with respect to inputs, state and every parameter."""
    torch.manual_seed(3)
    model = make_model(name)
    Ts, Bs = 5, 2
    x = torch.randn(Ts, Bs, I, dtype=torch.float64, requires_grad=True)
    st = random_state(model, batch=Bs)
    fields = [k for k, t in zip(st._fields, st) if t is not None]
    state_inputs = [getattr(st, k).clone().requires_grad_() for k in fields]
    params = dict(model.named_parameters())
    names = list(params)
    leaves = [params[k].detach().clone().requires_grad_() for k in names]

    def run(x, *tensors):
        st = TwinState(**dict(zip(fields, tensors[:len(fields)])))
        replaced = dict(zip(names, tensors[len(fields):]))
        with _swap_params(model, replaced):
            eff = model.cell.effective_params()
            h, final, _ = twin_sequence(x, st, eff, model.cell.switches(), impl="fused", chunk_size=2)
        outs = [h, final.v, final.dU]
        if final.E is not None:
            outs.append(final.E)
        return tuple(outs)

    assert torch.autograd.gradcheck(run, (x, *state_inputs, *leaves), eps=1e-6, atol=1e-7, rtol=1e-6)


class _swap_params:
    """Temporarily replace a module's parameters by given tensors (for gradcheck)."""

    def __init__(self, model, replaced):
        self.model, self.replaced, self.saved = model, replaced, {}

    def __enter__(self):
        for name, value in self.replaced.items():
            mod_name, _, attr = name.rpartition(".")
            mod = self.model.get_submodule(mod_name)
            self.saved[name] = mod._parameters[attr]
            mod._parameters[attr] = value

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            mod_name, _, attr = name.rpartition(".")
            self.model.get_submodule(mod_name)._parameters[attr] = value
        return False


def test_fused_keeps_no_per_step_matrices():
    """The fused node holds ceil(T/C) (B, N, N) snapshots and O(T B N) vectors, not O(T B N^2)."""
    Tl, Bl, Nl, C = 64, 2, 16, 16
    model = GatedPlasticRNN(I, Nl, rule="modulated").double()
    x = torch.randn(Tl, Bl, I, dtype=torch.float64)
    h, _ = model(x, impl="fused", chunk_size=C)
    node = h.grad_fn
    saved = [t for t in node.saved_tensors if t is not None]
    snapshots = [t for t in saved if tuple(t.shape) == (Bl, 2 * Nl, Nl)]  # [dU; E] at each chunk start
    assert len(snapshots) == math.ceil(Tl / C)
    held = sum(t.numel() for t in saved) + sum(t.numel() for st in node.starts for t in st.values())
    per_step_matrices = Tl * Bl * Nl * Nl * 2  # dU and E at every step: what the reference keeps at least
    assert held < per_step_matrices / 4


# --------------------------------------------------------------------------------------------------
# Records, layout, noise
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "mod-units-neuron"])
def test_records_agree_between_paths_and_stride(name, x):
    model = make_model(name)
    st = random_state(model)
    keys = ("h", "v", "gates", "dU")
    with torch.no_grad():
        _, _, ref = model(x, st, impl="reference", record=keys, record_stride=3)
        h, _, fused = model(x, st, impl="fused", chunk_size=2, record=keys, record_stride=3)
    assert ref["dU_steps"] == fused["dU_steps"] == [2, 5]
    assert fused["dU"].shape == (2, B, N, N)
    assert torch.equal(fused["h"], h)
    for key in ("v", "dU") + (("M", "s", "r") if name.startswith("mod") else ()):
        torch.testing.assert_close(fused[key], ref[key], **TOL)
    if name.startswith("mod"):
        assert fused["M"].shape == (T, B, N)


def test_batch_first_is_the_transposed_layout(x):
    torch.manual_seed(0)
    tm = make_model("plain")
    bf = GatedPlasticRNN(config=tm.config, batch_first=True).double()
    bf.load_state_dict(tm.state_dict())
    with torch.no_grad():
        h_tm, _, rec_tm = tm(x, record=("v",))
        h_bf, _, rec_bf = bf(x.transpose(0, 1), record=("v",))
    torch.testing.assert_close(h_bf, h_tm.transpose(0, 1), rtol=0, atol=0)
    torch.testing.assert_close(rec_bf["v"], rec_tm["v"].transpose(0, 1), rtol=0, atol=0)


def test_noise_only_where_the_mask_is_on(x):
    model = make_model("plain", input_noise_std=0.5)
    mask = torch.zeros(T, B, 1, dtype=torch.float64)
    mask[4:] = 1.0  # "delay" steps 4..6
    with torch.no_grad():
        clean, _ = model(x)
        silent, _ = model(x, noise_mask=torch.zeros_like(mask), generator=torch.Generator().manual_seed(0))
        noisy1, _ = model(x, noise_mask=mask, generator=torch.Generator().manual_seed(5))
        noisy2, _ = model(x, noise_mask=mask, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(silent, clean, rtol=0, atol=0)
    torch.testing.assert_close(noisy1[:4], clean[:4], rtol=0, atol=0)
    assert (noisy1[4:] - clean[4:]).abs().max() > 1e-3
    torch.testing.assert_close(noisy1, noisy2, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------------
# Parameters, repr, save/load
# --------------------------------------------------------------------------------------------------


def test_constrained_parameters_and_reset():
    model = GatedPlasticRNN(I, N, rule="modulated", alpha_shape="synapse", alpha_init=0.3, alpha_max=1.5,
                            rate_u_shape="neuron", rate_u_init=0.2, gate_s=GateConfig("learned", "neuron", 0.4))
    p = model.cell.effective_params()
    assert p.alpha.shape == (N, N) and p.rate_u.shape == (N,)
    torch.testing.assert_close(p.alpha, torch.full((N, N), 0.3))
    torch.testing.assert_close(p.rate_u, torch.full((N,), 0.2))
    torch.testing.assert_close(p.gate_s.value, torch.full((N,), 0.4))
    with torch.no_grad():
        model.cell.alpha_raw.fill_(100.0)
        model.cell.rate_u_logit.fill_(-100.0)
    p = model.cell.effective_params()
    assert p.alpha.max() <= 1.5 and p.rate_u.min() >= 0.0
    model.reset_parameters()
    torch.testing.assert_close(model.cell.effective_params().alpha, torch.full((N, N), 0.3))
    text = repr(model)
    assert "rule=modulated" in text and "alpha=synapse" in text and "s:learned/neuron" in text
    model.alpha_off = True
    assert "alpha_off" in repr(model) and model.cell.alpha_off


@pytest.mark.parametrize("name", ["plain-neuron", "mod-learned", "mod-units-neuron"])
def test_save_load_round_trip(name, x, tmp_path):
    model = make_model(name)
    model.alpha_off = True
    path = save_twin(tmp_path / "twin.pt", model)
    loaded = load_twin(path)
    assert isinstance(loaded, GatedPlasticRNN) and loaded.config == model.config and loaded.alpha_off
    with torch.no_grad():
        torch.testing.assert_close(loaded(x)[0], model(x)[0], rtol=0, atol=0)
    data = torch.load(path, weights_only=True)
    assert data["format"] == "neuromod-twin" and data["version"] == 2
    assert data["conventions"]["matrix_index"] == "[post, pre]"
    eff = model.cell.effective_params()
    torch.testing.assert_close(data["effective"]["alpha"], eff.alpha.detach())
    torch.testing.assert_close(data["effective"]["U"], eff.U.detach())
    if name.startswith("mod"):
        assert set(data["gates"]) == {"M", "s", "r"}
        assert data["gates"]["M"]["activation"] == "tanh"
    cell_path = save_twin(tmp_path / "cell.pt", model.cell)
    assert isinstance(load_twin(cell_path), GatedPlasticRNNCell)


# --------------------------------------------------------------------------------------------------
# Bad input: one clear error naming what was expected and what was given
# --------------------------------------------------------------------------------------------------


def test_bad_inputs(tmp_path):
    model = GatedPlasticRNN(I, N)
    with pytest.raises(ValueError, match=r"\(T, B, I\).*input_size = 3.*\(4, 2, 5\)"):
        model(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match=r"got \(4, 3\)"):
        model(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        model(torch.zeros(4, 2, I, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.float64; expected torch.float32"):
        model(torch.zeros(4, 2, I, dtype=torch.float64))
    other = GatedPlasticRNN(I, N + 1).initial_state(2)
    with pytest.raises(ValueError, match=r"state.v has shape \(2, 6\); expected \(2, 5\)"):
        model(torch.zeros(4, 2, I), other)
    with pytest.raises(ValueError, match=r"state fields \[.e., .E.\] belong to the other rule"):
        model(torch.zeros(4, 2, I), GatedPlasticRNN(I, N, rule="modulated").initial_state(2))
    with pytest.raises(ValueError, match="noise_mask of shape"):
        GatedPlasticRNN(I, N, input_noise_std=0.1)(torch.zeros(4, 2, I), noise_mask=torch.ones(3, 2, 1))
    with pytest.raises(ValueError, match="does not cover per-synapse alpha"):
        GatedPlasticRNN(I, N, alpha_shape="synapse")(torch.zeros(4, 2, I), impl="fused")
    with pytest.raises(ValueError, match="record keys must be among"):
        model(torch.zeros(4, 2, I), record=("w",))
    with pytest.raises(ValueError, match="rule must be one of.*got 'hebb'"):
        GatedPlasticRNN(I, N, rule="hebb")
    with pytest.raises(ValueError, match="rate_plus is a rate per step"):
        GatedPlasticRNN(I, N, rate_plus=2.0)
    path = save_twin(tmp_path / "twin.pt", model)
    data = torch.load(path, weights_only=True)
    data["version"] = 99
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="version 99; this neuromod reads versions 1, 2"):
        load_twin(tmp_path / "future.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="expected format 'neuromod-twin', got 'something-else'"):
        read_twin(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="is not a neuromod twin file"):
        read_twin(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="does not exist"):
        read_twin(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="expects a GatedPlasticRNN"):
        save_twin(tmp_path / "x.pt", torch.nn.Linear(2, 2))


def test_switches_are_static_choices():
    sw = GatedPlasticRNN(I, N, continuous_time=True).cell.switches()
    assert sw == TwinSwitches(rule="plain", continuous_time=True, ct_rate=0.2)


# --------------------------------------------------------------------------------------------------
# The toy training example
# --------------------------------------------------------------------------------------------------


def test_toy_example_loss_falls():
    """A small run of examples/train_rate_twin_toy.py: the recall loss must fall clearly."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "train_rate_twin_toy.py"
    spec = importlib.util.spec_from_file_location("train_rate_twin_toy", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: extra threads only add contention on a shared machine
    try:
        losses, net = example.train(200, seed=0, batch=32, hidden_size=32, k=2, return_net=True)
    finally:
        torch.set_num_threads(threads)
    first, last = sum(losses[:5]) / 5, sum(losses[-10:]) / 10
    assert all(math.isfinite(v) for v in losses)
    assert last < 0.7 * first, (first, last)
    assert example.evaluate(net, k=2, key_dim=8, value_dim=2) < 0.7 * first
