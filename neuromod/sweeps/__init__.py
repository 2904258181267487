"""The parts of a parameter sweep (:mod:`neuromod.sweep` runs them), one job per module:

- :mod:`~neuromod.sweeps.spec`: read and check the SPEC (run kind, grid or points, seeds);
- :mod:`~neuromod.sweeps.ids`: the stable id of each run;
- :mod:`~neuromod.sweeps.kinds`: one run of each kind into its run folder;
- :mod:`~neuromod.sweeps.execute`: Dask tasks, schedulers, progress, resuming;
- :mod:`~neuromod.sweeps.tables`: the Parquet table and the Zarr dataset;
- :mod:`~neuromod.sweeps.plot`: ``neuromod sweep-plot``.
"""

__all__: list[str] = []
