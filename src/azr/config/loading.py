"""Loading configs: defaults <- YAML preset <- dotted `key=value` overrides, validated by the schema."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from azr.config.schema import Config, ConfigError, _to_plain


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert a YAML value to the field's declared type, or raise ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(name, args[0], value)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list (got {value!r})")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        return tuple(_coerce(f"{name}[]", item_tp, v) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name} must be true or false (got {value!r})")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer (got {value!r})")
        return value
    if tp is float:
        if isinstance(value, str):
            # YAML 1.1 reads `1e-6` (no dot) as a string; accept it as the number the user meant.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number (got {value!r})")
        return float(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{name} must be a string (got {value!r})")
        return str(value)
    return value


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (valid: {', '.join(sorted(names))})")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            sub = data[f.name] or {}
            if not isinstance(sub, dict):
                raise ConfigError(f"{prefix}{f.name} must be a mapping")
            kwargs[f.name] = _build(tp, sub, f"{prefix}{f.name}.")
        else:
            kwargs[f.name] = _coerce(f"{prefix}{f.name}", tp, data[f.name])
    try:
        return cls(**kwargs)
    except TypeError as e:  # pragma: no cover - guarded by the unknown-key check
        raise ConfigError(str(e)) from e


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b=value` -> (['a', 'b'], parsed value); the value is parsed as YAML (`3`, `true`, `[x, y]`)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def merge_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    data = _to_plain(data)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {text!r}: {part} is not a section")
            node = nxt
        node[path[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"config file {p} cannot be read ({e.strerror or type(e).__name__})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {p} is not valid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping at the top level")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults <- YAML file <- dotted overrides, validated. Raises ConfigError with a one-line message."""
    data = read_yaml(path) if path else {}
    data = merge_overrides(data, overrides or [])
    return _build(Config, data, "")


def config_from_dict(data: dict[str, Any]) -> Config:
    return _build(Config, data, "")


def save_config(cfg: Config, path: str | Path) -> None:
    from azr.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def presets_dir() -> Path:
    """The `configs/` directory: next to the source tree in a checkout, or packaged data."""
    here = Path(__file__).resolve()
    for cand in (here.parents[3] / "configs", here.parents[1] / "configs"):
        if cand.is_dir():
            return cand
    return here.parents[3] / "configs"


def resolve_preset(name_or_path: str) -> Path:
    """`cpu-demo` -> configs/cpu-demo.yaml; a path is returned as is."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return presets_dir() / f"{name_or_path}.yaml"
