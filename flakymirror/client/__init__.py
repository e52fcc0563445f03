"""The lifecycle side of the wire: a Python reference of what Cloud Native Buildpacks'
lifecycle (imgutil + go-containerregistry) does when it opens, exports and rebases images.

It knows nothing of the mirror. The core is the transport, the remote image and the retrying
opener; ``export``/``rebase`` and their types live in :mod:`flakymirror.client.exporter` /
:mod:`flakymirror.client.rebaser` and are re-exported here.
"""

from __future__ import annotations

from flakymirror.client.auth import (
    Anonymous,
    BasicCredentials,
    Challenge,
    Keychain,
    StaticToken,
    parse_challenges,
)
from flakymirror.client.errors import (
    ClientError,
    Diagnostic,
    GoEOF,
    ImageError,
    NetworkError,
    RemoteImageError,
    RepoStoreError,
    RequestInfo,
    TransportError,
    UnexpectedEOF,
    error_chain,
    find_transport_error,
)
from flakymirror.client.opener import (
    LIFECYCLE_DELAYS,
    LIFECYCLE_POLICY,
    NON_RETRYABLE_STATUSES,
    OpenerPolicy,
    go_duration,
    is_retryable,
    open_remote_image,
)
from flakymirror.client.remote import DEFAULT_PLATFORM, RemoteImage, new_remote_image
from flakymirror.client.retry import PROFILES, Backoff, RetryProfile, resolve_profile
from flakymirror.client.transport import RequestRecord, Transport

__all__ = [
    "Anonymous",
    "Backoff",
    "BasicCredentials",
    "Challenge",
    "ClientError",
    "DEFAULT_PLATFORM",
    "Diagnostic",
    "GoEOF",
    "ImageError",
    "Keychain",
    "LIFECYCLE_DELAYS",
    "LIFECYCLE_POLICY",
    "NON_RETRYABLE_STATUSES",
    "OpenerPolicy",
    "NetworkError",
    "PROFILES",
    "RemoteImage",
    "RemoteImageError",
    "RepoStoreError",
    "RequestInfo",
    "RequestRecord",
    "RetryProfile",
    "StaticToken",
    "Transport",
    "TransportError",
    "UnexpectedEOF",
    "error_chain",
    "find_transport_error",
    "go_duration",
    "is_retryable",
    "new_remote_image",
    "open_remote_image",
    "parse_challenges",
    "resolve_profile",
]

# The export side (lifecycle's exporter and rebaser) builds on the core above.
from flakymirror.client.buildmeta import (  # noqa: E402 - after the core they use
    BuildMetadata,
    GroupElement,
    Process,
)
from flakymirror.client.exporter import (  # noqa: E402 - after the core they use
    DEFAULT_LAUNCHER,
    Buildpack,
    ExportReport,
    LayerSpec,
    WorkingImage,
    export,
)
from flakymirror.client.lifecycle_error import (  # noqa: E402 - after the core they use
    CODE_EXPORT_ERROR,
    CODE_FAILED,
    CODE_INVALID_ARGS,
    CODE_REBASE_ERROR,
    LifecycleError,
)
from flakymirror.client.metadata import (  # noqa: E402 - after the core they use
    BUILD_METADATA_LABEL,
    DISTRO_NAME_LABEL,
    DISTRO_VERSION_LABEL,
    LIFECYCLE_METADATA_LABEL,
    MIXINS_LABEL,
    PROJECT_METADATA_LABEL,
    REBASABLE_LABEL,
    STACK_ID_LABEL,
    TARGET_ID_LABEL,
    BuildpackLayerMetadata,
    BuildpackLayersMetadata,
    LayerMetadata,
    LayersMetadata,
    MetadataError,
    RunImageForExport,
    RunImageForRebase,
    api_less_than,
    decode_json,
    go_json,
    parse_api,
    repository_name,
)
from flakymirror.client.push import (  # noqa: E402 - after the core they use
    MountSource,
    PushBlob,
    PushResult,
    ggcr_config_bytes,
    ggcr_descriptor,
    ggcr_manifest_bytes,
    go_query_encode,
    push_image,
)
from flakymirror.client.rebaser import (  # noqa: E402 - after the core they use
    RebaseError,
    RebaseReport,
    best_run_image_mirror,
    rebase,
    run_image_from_metadata,
    sync_labels,
    validate_mixins,
    validate_stack_id,
    validate_target,
)
from flakymirror.client.target import (  # noqa: E402 - after the core they use
    TargetMetadata,
    parse_mixins,
    strip_stage_prefixes,
)

__all__ += [
    "DEFAULT_LAUNCHER",
    "Buildpack",
    "ExportReport",
    "LayerSpec",
    "WorkingImage",
    "export",
    "RebaseError",
    "RebaseReport",
    "best_run_image_mirror",
    "rebase",
    "run_image_from_metadata",
    "sync_labels",
    "validate_mixins",
    "validate_stack_id",
    "validate_target",
    "CODE_EXPORT_ERROR",
    "CODE_FAILED",
    "CODE_INVALID_ARGS",
    "CODE_REBASE_ERROR",
    "LifecycleError",
    "BUILD_METADATA_LABEL",
    "DISTRO_NAME_LABEL",
    "DISTRO_VERSION_LABEL",
    "LIFECYCLE_METADATA_LABEL",
    "MIXINS_LABEL",
    "PROJECT_METADATA_LABEL",
    "REBASABLE_LABEL",
    "STACK_ID_LABEL",
    "TARGET_ID_LABEL",
    "BuildpackLayerMetadata",
    "BuildpackLayersMetadata",
    "LayerMetadata",
    "LayersMetadata",
    "MetadataError",
    "RunImageForExport",
    "RunImageForRebase",
    "api_less_than",
    "decode_json",
    "go_json",
    "parse_api",
    "repository_name",
    "BuildMetadata",
    "GroupElement",
    "Process",
    "TargetMetadata",
    "parse_mixins",
    "strip_stage_prefixes",
    "MountSource",
    "PushBlob",
    "PushResult",
    "ggcr_config_bytes",
    "ggcr_descriptor",
    "ggcr_manifest_bytes",
    "go_query_encode",
    "push_image",
]


def __dir__() -> list[str]:
    return sorted(__all__)
