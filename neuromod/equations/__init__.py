"""The equation library: every neuron, synapse and neuromodulator gate as Brian2 equation strings.

Each model is a small function that takes a parameter set and returns the strings Brian2 needs
(``model``, ``threshold``, ``reset``, ``refractory`` for neurons; ``model``, ``on_pre``,
``on_post`` for synapses) together with the namespace of constants they use. Every model,
device and test takes its equations from here.
"""
