"""Commands of the ``neuromod`` command line that live in modules of their own.

Each module here defines ``register(app, common)``, which adds its command(s) to the typer ``app``;
``common`` is :mod:`neuromod.cli` itself, for the shared options and helpers (``SeedOption``,
``SetOption``, ``OverwriteOption``, ``_output_folder``, ``_checked_seed``, ``_user_errors``,
``_figures``). :data:`neuromod.cli.COMMAND_MODULES` lists them, one line per module. A module must stay
cheap to import: heavy packages (Brian2, PyTorch, Dask) are imported inside the command bodies.
"""
