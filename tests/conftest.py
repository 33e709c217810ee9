"""Fixtures every test module can use: `hub_server` and `hub_env` (tests/conftest_hub.py)."""
pytest_plugins = ["tests.conftest_hub"]


def pytest_configure(config):
    """The texts are looked for in the shared inputs (../shared/inputs beside the
    checkout) when $LITTLE_BABY_INPUTS is unset: the library itself knows only the
    variable and ./inputs (io/store/places.py). Under CI the tests that train on real text must
    run, not skip: stop at once if the texts are missing. The default model store
    (~/.cache/little_baby/models) goes to a temporary folder, so no test writes into the
    user's own store."""
    import os
    import tempfile
    from pathlib import Path

    shared = Path(__file__).resolve().parents[2] / "shared" / "inputs"
    if shared.is_dir() and not os.environ.get("LITTLE_BABY_INPUTS"):
        os.environ["LITTLE_BABY_INPUTS"] = str(shared)
    os.environ["LITTLE_BABY_STORE"] = tempfile.mkdtemp(prefix="little-baby-store-")
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="little-baby-xdg-"))

    from little_baby.training.data import find_input
    if os.environ.get("CI") and (find_input("shakespeare.txt") is None
                                 or find_input("sophocles.txt") is None):
        raise RuntimeError("CI is set but shakespeare.txt / sophocles.txt were not found "
                           "(../shared/inputs, ./inputs or $LITTLE_BABY_INPUTS): the tests "
                           "that train on real text would silently skip.")
