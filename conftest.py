"""The suites' options and fixtures come from brixcheck's pytest plugin; nothing else here."""

pytest_plugins = ["brixcheck.pytest_plugin"]
