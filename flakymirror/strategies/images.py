"""Hypothesis strategies for small synthetic images and multi-platform indexes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from flakymirror.oci import Image, ImageIndex, build_image, build_index


def image_params(
    *,
    max_layers: int = 4,
    min_layers: int = 1,
    max_layer_size: int = 2048,
    flavors: Sequence[str] = ("oci", "docker"),
    compressions: Sequence[str] = ("gzip", "none", "zstd"),
    platforms: Sequence[str] = ("linux/amd64",),
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for :func:`flakymirror.oci.build_image`: per-layer sizes, seed, flavor,
    compression and platform. Docker-flavored images are only drawn with gzip layers (Docker
    schema 2 has no media type for the others)."""
    if min_layers < 0 or max_layers < min_layers:
        raise ValueError(f"need 0 <= min_layers <= max_layers, got {min_layers}, {max_layers}")

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        flavor = data(st.sampled_from(tuple(flavors)))
        allowed = tuple(c for c in compressions if flavor == "oci" or c == "gzip") or ("gzip",)
        sizes = data(
            st.lists(
                st.integers(min_value=0, max_value=max_layer_size),
                min_size=min_layers,
                max_size=max_layers,
            )
        )
        return {
            "layer_sizes": sizes,
            "layers": len(sizes),
            "seed": data(st.integers(min_value=0, max_value=2**16)),
            "flavor": flavor,
            "compression": data(st.sampled_from(allowed)),
            "platform": data(st.sampled_from(tuple(platforms))),
        }

    return draw()


def images(**params: Any) -> st.SearchStrategy[Image]:
    """Small synthetic images (:func:`build_image` of :func:`image_params`; same keywords)."""
    return image_params(**params).map(lambda kw: build_image(**kw))


def indexes(
    *,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"),
    max_platforms: int = 3,
    max_layers: int = 3,
    max_layer_size: int = 1024,
) -> st.SearchStrategy[ImageIndex]:
    """Small multi-platform indexes: 1..``max_platforms`` distinct platforms, same layer count."""
    return st.builds(
        lambda plats, n, size, seed, flavor: build_index(
            plats, seed=seed, flavor=flavor, layers=n, layer_size=size
        ),
        st.lists(
            st.sampled_from(tuple(platforms)), min_size=1, max_size=max_platforms, unique=True
        ),
        st.integers(min_value=1, max_value=max_layers),
        st.integers(min_value=0, max_value=max_layer_size),
        st.integers(min_value=0, max_value=2**16),
        st.sampled_from(("oci", "docker")),
    )
