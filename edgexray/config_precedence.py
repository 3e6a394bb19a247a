"""How the system configuration file and a less protected one are merged, setting by setting.

The system file (/etc/edgexray/edgexray.toml) sits in a folder only root can write; the other one
(--config, $EDGEXRAY_CONFIG, ./edgexray.toml) may sit anywhere a user or a process can write. The
less protected file adds settings and replaces ordinary ones (threads, port, format...), but a
security setting it can only strengthen: against the system file's value, or against the built-in
default when the system file does not set it (the default is what the system file's owner left
in force). A weaker value is ignored, and said so (`config show`, and every run's stderr).

Security settings, by option name, and what "stronger" means:

- trusted_keys, allowed_model_digests, allowed_aes, allowed_networks: a list that restricts what
  runs or who may connect (dicom-node's calling AE titles and source networks). Stronger: a list
  where there was none, or a non-empty part of the list already set.
- allow_overrides, allow_unsealed_card, allow_degraded_model, insecure_no_auth, allow_hosts: what
  the policy lets through (serve's extra Host names included: each one is a name a DNS-rebinding
  page could use). Stronger: a part of what was allowed (False where it was False).
- input_check (off < warn < strict), dicom_gate (off < on): stronger is later in the order.
- min_model_versions (NAME=N): per model name, the higher version wins; new names are added.
- labels, normalize, interpolation, output_kind, threshold (the card overrides), audit,
  token_file, state_dir (where serve keeps its token), host, tls_cert, tls_key, tls_ca,
  dicom_modalities: once the system file sets one, the other file cannot change it (there is no
  "stronger" threshold, audit path or certificate).

Values are the commands' default_map values: lists for repeatable options, bools for flags,
strings for choices and paths (already resolved against their file's folder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgexray.signing.rules import parse_min_version


@dataclass(frozen=True)
class Merged:
    """A setting after the merge: its value, and whether the less protected file's value was
    ignored (weakened: the value kept is the more protected one's)."""

    value: Any
    weakened: bool = False


# base: the system file's value, or the built-in default when it does not set one.
# system_set: whether the system file set it. local: the less protected file's value.
Rule = Callable[[Any, bool, Any], Merged]


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _restricting(base: Any, system_set: bool, local: Any) -> Merged:
    """A list that limits what runs (trusted keys, allowed digests)."""
    had, wants = _listed(base), _listed(local)
    if not had or (wants and set(wants) <= set(had)):
        return Merged(local)
    return Merged(base, weakened=True)


def _allowing(base: Any, system_set: bool, local: Any) -> Merged:
    """What the policy lets through (a list of names, or a flag)."""
    if isinstance(local, bool):
        return Merged(local) if not local or bool(base) else Merged(base, weakened=True)
    if set(_listed(local)) <= set(_listed(base)):
        return Merged(local)
    return Merged(base, weakened=True)


def _ordered(*order: str) -> Rule:
    def rule(base: Any, system_set: bool, local: Any) -> Merged:
        if base not in order or local not in order or order.index(local) >= order.index(base):
            return Merged(local)
        return Merged(base, weakened=True)

    return rule


def _fixed(base: Any, system_set: bool, local: Any) -> Merged:
    """Set by the system file: kept; else the other file's value."""
    if not system_set or local == base:
        return Merged(local)
    return Merged(base, weakened=True)


def _highest_versions(base: Any, system_set: bool, local: Any) -> Merged:
    versions = dict(parse_min_version(text) for text in _listed(base))
    weakened = False
    for name, version in (parse_min_version(text) for text in _listed(local)):
        weakened |= version < versions.get(name, version)
        versions[name] = max(version, versions.get(name, version))
    return Merged([f"{name}={version}" for name, version in versions.items()], weakened)


RULES: dict[str, Rule] = {
    "trusted_keys": _restricting,
    "allowed_model_digests": _restricting,
    "allowed_aes": _restricting,
    "allowed_networks": _restricting,
    "allow_overrides": _allowing,
    "allow_unsealed_card": _allowing,
    "allow_degraded_model": _allowing,
    "insecure_no_auth": _allowing,
    "allow_hosts": _allowing,
    "input_check": _ordered("off", "warn", "strict"),
    "dicom_gate": _ordered("off", "on"),
    "min_model_versions": _highest_versions,
    **{
        name: _fixed
        for name in (
            "labels",
            "normalize",
            "interpolation",
            "output_kind",
            "threshold",
            "audit",
            "token_file",
            "state_dir",
            "host",
            "tls_cert",
            "tls_key",
            "tls_ca",
            "dicom_modalities",
        )
    },
}


def merge_setting(name: str, base: Any, system_set: bool, local: Any) -> Merged:
    """The value of option `name` once the less protected file's `local` meets `base` (the
    system file's value, or the built-in default when `system_set` is False)."""
    rule = RULES.get(name)
    return Merged(local) if rule is None else rule(base, system_set, local)
