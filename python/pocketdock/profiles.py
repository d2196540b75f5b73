"""Image profiles: named images with a network default (the registry lives in the Rust core)."""

from __future__ import annotations

import dataclasses
from typing import Dict, List

from pocketdock import _native

__all__ = ["PROFILES", "ProfileInfo", "list_profiles", "resolve_profile"]


@dataclasses.dataclass(frozen=True)
class ProfileInfo:
    """Metadata of a built-in image profile."""

    name: str
    image_tag: str
    dockerfile_dir: str
    network_default: bool
    description: str
    size_estimate: str


def _profile(fields: "tuple[str, str, bool, str, str]") -> ProfileInfo:
    name, image_tag, network_default, description, size_estimate = fields
    return ProfileInfo(
        name=name,
        image_tag=image_tag,
        dockerfile_dir=f"_images/{name}",
        network_default=network_default,
        description=description,
        size_estimate=size_estimate,
    )


PROFILES: Dict[str, ProfileInfo] = {p.name: p for p in map(_profile, _native.list_profiles())}


def resolve_profile(name: str) -> ProfileInfo:
    """The profile called ``name``.

    Raises:
        ValueError: If *name* is not a known profile (the message lists the known ones).

    """
    return _profile(_native.resolve_profile(name))


def list_profiles() -> List[ProfileInfo]:
    """All built-in profiles."""
    return list(PROFILES.values())
