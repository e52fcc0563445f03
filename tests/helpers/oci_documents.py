"""Valid OCI documents as JSON objects (manifest, index, config) and a way to break one field:
the inputs of the OCI data-model tests."""

import copy
import json

from flakymirror.oci import Digest
from flakymirror.oci import mediatypes as mt

D1 = str(Digest.of(b"config"))
D2 = str(Digest.of(b"layer-1"))
D3 = str(Digest.of(b"layer-2"))


def manifest_dict() -> dict:
    """A valid OCI image manifest as a JSON object."""
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": D1, "size": 6},
        "layers": [
            {"mediaType": mt.OCI_LAYER_GZIP, "digest": D2, "size": 7},
            {"mediaType": mt.OCI_LAYER_GZIP, "digest": D3, "size": 7},
        ],
    }


def index_dict() -> dict:
    """A valid OCI index with two platform children."""
    return {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": D2,
                "size": 100,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": D3,
                "size": 100,
                "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"},
            },
        ],
    }


def config_dict() -> dict:
    """A valid image config."""
    return {
        "created": "2024-01-01T00:00:00Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": [D2, D3]},
        "history": [{"created_by": "one"}, {"created_by": "two"}],
    }


def mutate(d: dict, path: str, value: object) -> dict:
    """A deep copy of ``d`` with the ``path`` (``layers/1/digest``) set to ``value``;
    the value ``DELETE`` removes the key."""
    out = copy.deepcopy(d)
    *parents, last = path.split("/")
    node = out
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    key = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return out


DELETE = object()


def dumps(d: object) -> bytes:
    """``d`` as JSON bytes."""
    return json.dumps(d).encode()
