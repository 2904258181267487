# Rate twin (PyTorch gated plastic RNN) and its file format.
from neuromod.models.gated_rnn import GateConfig, GatedPlasticRNN, GatedPlasticRNNCell, TwinConfig, TwinState  # noqa: E402,F401
from neuromod.models.twin_io import load_twin, read_twin, save_twin  # noqa: E402,F401
