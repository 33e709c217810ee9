"""Fixtures every test module can use: `hub_server` and `hub_env` (tests/conftest_hub.py)."""
pytest_plugins = ["tests.conftest_hub"]
