"""Flags generated from the options models, for pytest and for argparse alike.

A field becomes `--<prefix><name-with-dashes>`: a bool is a switch, a Literal gives choices,
anything else is parsed and checked by the model itself, so a bad value is refused by the
parser with the model's one-sentence reason. Reading the flags back gives the model.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from brixcheck.config.schema import Options
from brixcheck.errors import BrixcheckError

AddFlag = Callable[..., Any]  # argparse's add_argument, pytest's addoption
M = TypeVar("M", bound=Options)


def flag_name(model: type[Options], name: str, prefix: str | None = None) -> str:
    """The flag of one field, e.g. `--twin-nodes` for TwinOptions.nodes."""
    start = model.flag_prefix if prefix is None else prefix
    return f"--{start}{name.replace('_', '-')}"


def add_flags(add: AddFlag, model: type[Options], prefix: str | None = None,
              only: Iterable[str] | None = None) -> None:
    """Add a flag per field (or per field in `only`) with `add` (add_argument or addoption)."""
    names = list(only) if only is not None else list(model.model_fields)
    for name in names:
        add(flag_name(model, name, prefix), **_flag_settings(model, name))


def _flag_settings(model: type[Options], name: str) -> dict[str, Any]:
    field = model.model_fields[name]
    settings: dict[str, Any] = {"help": field.description, "default": field.default}
    kind = _without_none(field.annotation)
    if kind is bool:
        return {**settings, "action": "store_true"}
    if typing.get_origin(kind) is Literal:  # argparse's own message lists the choices
        return {**settings, "choices": typing.get_args(kind)}
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "metavar" in extra:
        settings["metavar"] = extra["metavar"]
    return {**settings, "type": _checked(model, name)}


def _without_none(annotation: Any) -> Any:
    """`X` of `X | None`; any other annotation as it is."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [k for k in typing.get_args(annotation) if k is not type(None)]
        return kinds[0] if len(kinds) == 1 else annotation
    return annotation


def _checked(model: type[Options], name: str) -> Callable[[str], Any]:
    """An argparse type: the field's value from the text, or the model's reason it is bad."""
    def parse(text: str) -> Any:
        try:
            return getattr(model.model_validate({name: text}), name)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(reason(exc)) from None

    return parse


def reason(exc: ValidationError) -> str:
    """The first error of a validation in words, without pydantic's 'Value error, ' prefix."""
    first = exc.errors()[0]
    if first["type"] == "value_error":
        return str(first["ctx"]["error"])
    return str(first["msg"])


def from_namespace(model: type[M], values: Any, prefix: str | None = None) -> M:
    """The model from parsed flags (an argparse Namespace or pytest's `config.option`)."""
    fields = {name: getattr(values, _dest(model, name, prefix)) for name in model.model_fields
              if hasattr(values, _dest(model, name, prefix))}
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        where = flag_name(model, str(exc.errors()[0]["loc"][0]), prefix)
        raise BrixcheckError(f"{where}: {reason(exc)}", "fix that option and run again") from None


def _dest(model: type[Options], name: str, prefix: str | None) -> str:
    return flag_name(model, name, prefix)[2:].replace("-", "_")
