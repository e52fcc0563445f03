"""Hypothesis strategies for model values (used by the round-trip properties)."""

from hypothesis import strategies as st

from flakymirror.oci import Descriptor, Digest, History, ImageConfig, Index, Manifest, Platform
from flakymirror.oci import mediatypes as mt

text = st.text(max_size=12)
digests = st.builds(Digest.of, st.binary(max_size=16), st.sampled_from(["sha256", "sha512"]))
string_maps = st.dictionaries(text, text, max_size=3)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=6,
)  # fmt: skip
extras = st.dictionaries(st.text(min_size=1, max_size=8).map("x-".__add__), json_values, max_size=2)
media_types = st.sampled_from(sorted(mt.LAYERS | mt.CONFIGS | {"application/vnd.example+json"}))
words = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)

platforms = st.builds(
    Platform,
    os=words,
    architecture=words,
    variant=st.none() | words,
    os_version=st.none() | text,
    os_features=st.lists(text, max_size=2).map(tuple),
    extra=extras,
)


def descriptors(with_platform: bool = False):
    return st.builds(
        Descriptor,
        media_type=media_types,
        digest=digests,
        size=st.integers(0, 2**63 - 1),
        annotations=st.none() | string_maps,
        platform=platforms if with_platform else st.none(),
        urls=st.none() | st.lists(text, max_size=2).map(tuple),
        artifact_type=st.none() | media_types,
        extra=extras,
    )


manifests = st.builds(
    Manifest,
    config=descriptors().filter(lambda d: d.media_type != mt.OCI_EMPTY),
    layers=st.lists(descriptors(), max_size=3).map(tuple),
    media_type=st.sampled_from(sorted(mt.IMAGE_MANIFESTS)),
    annotations=st.none() | string_maps,
    subject=st.none() | descriptors(),
    artifact_type=st.none() | media_types,
    extra=extras,
)

indexes = st.builds(
    Index,
    manifests=st.lists(descriptors(with_platform=True), max_size=3).map(tuple),
    media_type=st.sampled_from(sorted(mt.INDEXES)),
    annotations=st.none() | string_maps,
    subject=st.none() | descriptors(),
    artifact_type=st.none() | media_types,
    extra=extras,
)

histories = st.builds(
    History,
    created=st.none() | text,
    created_by=st.none() | text,
    author=st.none() | text,
    comment=st.none() | text,
    empty_layer=st.booleans(),
    extra=extras,
)

configs = st.builds(
    ImageConfig,
    os=words,
    architecture=words,
    variant=st.none() | words,
    diff_ids=st.lists(digests, max_size=3).map(tuple),
    history=st.lists(histories, max_size=3).map(tuple),
    labels=string_maps,
    env=st.lists(text, max_size=3).map(tuple),
    entrypoint=st.none() | st.lists(text, max_size=2).map(tuple),
    cmd=st.none() | st.lists(text, max_size=2).map(tuple),
    working_dir=st.none() | text,
    created=st.none() | text,
    extra=extras,
    os_version=st.none() | text,
    author=st.none() | text,
    user=st.none() | text,
    config_extra=extras,
)
