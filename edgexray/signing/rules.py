"""What a device's trust policy asks of a signed model beyond a trusted signer: rollback (a minimum
version per model name, an allow-list of file digests), the export gate's verdict, and which card
values a flag, the environment or a configuration file may replace. Pure Python, no cryptography:
the rules are checked after the signature held (edgexray.signing.verify.TrustPolicy)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from edgexray.card import ModelCard
from edgexray.card_resolution import FLAGS, CardOverrides
from edgexray.errors import UntrustedModelError
from edgexray.model_identity import bytes_sha256

#: The card values a user can replace, by the name `--allow-override` takes (the flag's).
OVERRIDABLE: tuple[str, ...] = tuple(flag.removeprefix("--") for flag in FLAGS.values())
_FIELD_BY_NAME = {flag.removeprefix("--"): name for name, flag in FLAGS.items()}
_SHA256 = re.compile(r"[0-9a-f]{64}")


class TrustPolicyError(UntrustedModelError):
    """A signed model, or a card override, that the trust policy's rules refuse."""


def parse_min_version(text: str) -> tuple[str, int]:
    """`NAME=N` (as --min-model-version takes it) -> (NAME, N); ValueError when malformed."""
    name, sep, number = text.rpartition("=")
    if not sep or not name.strip() or not number.strip().isdigit():
        raise ValueError(f"expected NAME=VERSION (a whole number), e.g. seed_cnn=3, got {text!r}")
    return name.strip(), int(number)


@dataclass(frozen=True)
class TrustRules:
    """min_versions: model name (the card's `name`) -> the lowest signed version that runs; a model
    of another name is not limited by it. Any entry also refuses a signature that binds no version
    (format 1, signed before edgexray bound versions). allowed_digests: SHA-256 of the whole model
    files allowed to run (the `model.sha256` of a record); empty: any. allow_degraded: run a signed
    variant the export gate flagged `degraded`. allow_overrides: the card values (OVERRIDABLE: the
    flags' names, threshold, labels, ...) that a flag, the environment or a configuration file may
    replace under the trust policy; any other is refused."""

    min_versions: Mapping[str, int] = field(default_factory=dict)
    allowed_digests: frozenset[str] = frozenset()
    allow_degraded: bool = False
    allow_overrides: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        versions = dict(self.min_versions)
        for name, version in versions.items():
            if not name or not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise ValueError(
                    f"a minimum version is a model name and a whole number >= 0, got {name!r}={version!r}"
                )
        object.__setattr__(self, "min_versions", MappingProxyType(versions))
        digests = frozenset(d.strip().lower() for d in self.allowed_digests)
        bad = sorted(d for d in digests if not _SHA256.fullmatch(d))
        if bad:
            raise ValueError(f"an allowed digest is a SHA-256 (64 hex digits), got {bad[0]!r}")
        object.__setattr__(self, "allowed_digests", digests)
        overrides = frozenset(self.allow_overrides)
        unknown = sorted(overrides - set(OVERRIDABLE))
        if unknown:
            raise ValueError(
                f"--allow-override takes {', '.join(OVERRIDABLE)}; got {', '.join(unknown)}"
            )
        object.__setattr__(self, "allow_overrides", overrides)

    @property
    def needs_keys(self) -> bool:
        """True when a rule means something only under trusted keys (a version or a digest
        pinned); the relaxations (allow_*) are harmless without them."""
        return bool(self.min_versions or self.allowed_digests)

    def check_model(
        self, where: str, data: bytes, name: str, version: int | None, gate: str
    ) -> None:
        """TrustPolicyError when a model signed with this name, version and gate verdict, whose
        file is `data` (hashed only against an allow-list), may not run."""
        file_sha256 = bytes_sha256(data) if self.allowed_digests else ""
        if self.allowed_digests and file_sha256 not in self.allowed_digests:
            raise TrustPolicyError(
                f"{where}: refused: its SHA-256 {file_sha256} is not in the trust policy's "
                "allow-list (--allowed-model-digest)"
            )
        if self.min_versions and version is None:
            raise TrustPolicyError(
                f"{where}: refused: signed before edgexray bound a version into signatures, and "
                "the trust policy requires minimum versions; sign it again (edgexray sign)"
            )
        minimum = self.min_versions.get(name)
        if minimum is not None and version is not None and version < minimum:
            raise TrustPolicyError(
                f"{where}: refused: version {version} of model {name!r} is older than the "
                f"minimum {minimum} the trust policy requires (a rollback?)"
            )
        if gate == "degraded" and not self.allow_degraded:
            raise TrustPolicyError(
                f"{where}: refused: the export gate flagged this variant degraded (parity below "
                "the gate); allow it with --allow-degraded-model"
            )

    def check_overrides(self, where: str, card: ModelCard, overrides: CardOverrides | None) -> None:
        """TrustPolicyError when `overrides` change a value of the signed `card` that the rules do
        not allow to be replaced (a value equal to the card's is not a change)."""
        given = (overrides or CardOverrides()).given()
        refused = [
            name
            for name in OVERRIDABLE
            if name not in self.allow_overrides
            and _FIELD_BY_NAME[name] in given
            and given[_FIELD_BY_NAME[name]] != getattr(card, _FIELD_BY_NAME[name])
        ]
        if refused:
            flags = ", ".join(f"--{name}" for name in refused)
            allow = " ".join(f"--allow-override {name}" for name in refused)
            raise TrustPolicyError(
                f"{where}: refused: {flags} would replace the signed card's value (from a flag, "
                f"the environment or a configuration file); allow it with {allow}"
            )


#: The rules of a command that inspects or measures a model rather than decides with it (`info`,
#: `bench`): the signature alone; the gate's verdict is shown, not enforced. (`verify` takes the
#: rules that judge a file and enforces them, as a device would.)
SIGNATURE_ONLY = TrustRules(allow_degraded=True)


def rules_from_options(
    min_versions: Iterable[str],
    allowed_digests: Iterable[str],
    allow_degraded: bool,
    allow_overrides: Iterable[str],
) -> TrustRules:
    """TrustRules from the command line's (or configuration file's) values; ValueError naming
    the bad value."""
    return TrustRules(
        min_versions=dict(parse_min_version(text) for text in min_versions),
        allowed_digests=frozenset(allowed_digests),
        allow_degraded=allow_degraded,
        allow_overrides=frozenset(allow_overrides),
    )
