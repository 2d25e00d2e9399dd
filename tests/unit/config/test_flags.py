"""Flags come from the options models: one name, default and help text for pytest and argparse;
a bad value is refused by the parser with the model's reason."""

from __future__ import annotations

import argparse
from typing import cast

import pytest

from brixcheck.config.flags import add_flags, from_namespace
from brixcheck.config.schema import BrixcheckConfig, Options, TwinOptions
from brixcheck.fixtures.options import add_options

# The options the suites had before they were generated; a rename would break users' commands.
PYTEST_OPTIONS = ["--kubeconfig", "--twin-nodes", "--keep", "--model-ready-timeout",
                  "--history-db", "--telemetry-interval", "--port-forward", "--model-manifest",
                  "--load-where", "--loadgen-image", "--aibrix-install", "--aibrix-release",
                  "--aibrix-small", "--aibrix-uninstall", "--loadgen-no-install"]


def _sections() -> list[type[Options]]:
    return [cast(type[Options], f.annotation) for f in BrixcheckConfig.model_fields.values()]


def _parser(model: type[Options], prefix: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p")
    add_flags(parser.add_argument, model, prefix)
    return parser


def test_every_option_field_has_a_description():
    missing = [f"{model.__name__}.{name}" for model in _sections()
               for name, field in model.model_fields.items() if not field.description]
    assert missing == []


def test_flags_parse_into_the_model():
    parsed = _parser(TwinOptions).parse_args(["--twin-nodes", "three-gpu",
                                              "--twin-time-factor", "0.5", "--twin-engine", "vllm"])
    options = from_namespace(TwinOptions, parsed)
    assert options == TwinOptions(nodes="three-gpu", time_factor=0.5, engine="vllm")


def test_flags_without_values_give_the_model_defaults():
    for model in _sections():
        assert from_namespace(model, _parser(model).parse_args([])) == model()


def test_bad_flag_value_is_refused_with_the_models_reason(capsys):
    parser = argparse.ArgumentParser(prog="p")
    add_flags(parser.add_argument, TwinOptions, prefix="")
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--time-factor", "0"])
    assert done.value.code == 2
    assert "argument --time-factor: must be a finite number above 0, got 0" in \
        capsys.readouterr().err


def test_literal_field_is_a_choice(capsys):
    with pytest.raises(SystemExit):
        _parser(TwinOptions).parse_args(["--twin-engine", "gpu"])
    assert "invalid choice: 'gpu' (choose from 'emulator', 'vllm')" in capsys.readouterr().err


def test_unknown_option_key_is_an_error():
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        BrixcheckConfig.model_validate({"twin": {"node": "three-gpu"}})


class _Group:
    """Records pytest's addoption calls (the `brixcheck` group of a fake parser)."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, object]] = {}

    def getgroup(self, name: str) -> _Group:
        assert name == "brixcheck"
        return self

    def addoption(self, flag: str, **settings: object) -> None:
        self.options[flag] = settings


def test_pytest_options_keep_their_names_and_take_the_models_text():
    group = _Group()
    add_options(group)  # type: ignore[arg-type]
    assert set(PYTEST_OPTIONS) <= set(group.options)
    assert group.options["--twin-nodes"]["help"] == TwinOptions.model_fields["nodes"].description
    assert group.options["--keep"]["action"] == "store_true"
