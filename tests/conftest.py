"""Fixtures every test module can use: `hub_server` and `hub_env` (tests/conftest_hub.py)."""
pytest_plugins = ["tests.conftest_hub"]


def pytest_configure(config):
    """Under CI the tests that train on real text must run, not skip: stop at once if
    the shared inputs (../shared/inputs beside the checkout) are missing. The default
    model store (~/.cache/little_baby/models, io/places.py) goes to a temporary folder,
    so no test writes into the user's own store."""
    import os
    import tempfile

    os.environ["LITTLE_BABY_CACHE"] = tempfile.mkdtemp(prefix="little-baby-store-")
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="little-baby-xdg-"))

    from little_baby.training.data import find_input
    if os.environ.get("CI") and (find_input("shakespeare.txt") is None
                                 or find_input("sophocles.txt") is None):
        raise RuntimeError("CI is set but shakespeare.txt / sophocles.txt were not found "
                           "(../shared/inputs, ./inputs or $LITTLE_BABY_INPUTS): the tests "
                           "that train on real text would silently skip.")
