"""Large layers stream with bounded memory: never the whole layer in memory."""

import tracemalloc

import pytest

from flakymirror.oci import build_image, verify_stream

SIZE = 64 * 1024 * 1024
BOUND = 12 * 1024 * 1024  # well below the 64 MiB layer


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_64mib_layer_streams_with_bounded_memory(compression):
    tracemalloc.start()
    try:
        layer = build_image(layers=1, layer_size=SIZE, seed=11, compression=compression).layers[0]
        # first pass: digest, size and diff_id computed while streaming
        digest, size = layer.digest, layer.size
        assert size > SIZE and layer.uncompressed_size > SIZE
        _, peak_measure = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        # second pass: regenerated and verified against the first
        total, biggest = 0, 0
        for chunk in verify_stream(layer.chunks(), digest, size):
            total += len(chunk)
            biggest = max(biggest, len(chunk))
        _, peak_stream = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert biggest <= 4 * 1024 * 1024
    assert peak_measure < BOUND, f"measuring peaked at {peak_measure} bytes"
    assert peak_stream < BOUND, f"streaming peaked at {peak_stream} bytes"
