"""Behavioural tasks for the rate twin (and later the spiking twin): one task, one class."""
