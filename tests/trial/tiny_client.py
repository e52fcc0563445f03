"""A tiny registry client for the trial tests, run as a command template.

    python tiny_client.py REF [--manifest-only] [--exit N] [--sleep S] [--retries N]

Pulls ``REF`` (``HOST:PORT/repo:tag``) over plain HTTP: the manifest, then every blob it names,
checking nothing (so a damaged blob or an empty manifest is taken as it comes). ``--retries N``
retries the manifest GET on any error status; ``--exit``/``--sleep`` end the run the way a test
needs. Exits 0 after a pull unless told otherwise, 1 on an HTTP error or a refused connection.
"""

import argparse
import http.client
import json
import sys
import time
import urllib.error
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def get(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref")
    p.add_argument("--manifest-only", action="store_true")
    p.add_argument("--exit", type=int, default=0)
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--retries", type=int, default=0)
    a = p.parse_args()
    host, _, rest = a.ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    base = f"http://{host}/v2/{repo}"
    for attempt in range(a.retries + 1):
        try:
            manifest = json.loads(get(f"{base}/manifests/{tag}", ACCEPT))
            break
        except (urllib.error.URLError, OSError) as exc:
            if attempt == a.retries:
                print(f"tiny_client: {exc}", file=sys.stderr)
                return 1
            time.sleep(0.05)
    blobs = [manifest["config"]] + ([] if a.manifest_only else manifest["layers"])
    for blob in blobs:
        try:
            get(f"{base}/blobs/{blob['digest']}")
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # a cut body is taken as it comes
            if not isinstance(exc, urllib.error.HTTPError):
                continue
            print(f"tiny_client: {exc}", file=sys.stderr)
            return 1
    time.sleep(a.sleep)
    return a.exit


if __name__ == "__main__":
    sys.exit(main())
