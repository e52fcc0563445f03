"""lifecycle's phase/retry_test.go ported case by case, plus the cases it does not cover."""

from __future__ import annotations

import logging

import pytest

from flakymirror.client import (
    LIFECYCLE_DELAYS,
    ClientError,
    ImageError,
    RepoStoreError,
    TransportError,
    find_transport_error,
    go_duration,
    is_retryable,
    open_remote_image,
)
from flakymirror.client.errors import RequestInfo
from tests.helpers.sleeps import Sleeps


class StubImage:
    """retry_test.go's stubImage: TopLayer returns a fixed (sha, err) and counts calls."""

    def __init__(self, sha: str = "", err: BaseException | None = None) -> None:
        self.sha = sha
        self.err = err
        self.top_layer_calls = 0

    def top_layer(self) -> str:
        self.top_layer_calls += 1
        if self.err is not None:
            raise self.err
        return self.sha


class MemoryHandler(logging.Handler):
    """apex/log's memory handler: keeps every record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def levels(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def memlog() -> tuple[logging.Logger, MemoryHandler]:
    logger = logging.getLogger(f"test-opener-{id(object())}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = MemoryHandler()
    logger.addHandler(handler)
    yield logger, handler
    logger.removeHandler(handler)


def swap_retry_timing(n: int) -> tuple[tuple[float, ...], Sleeps]:
    """retry_test.go's swapRetryTiming: n delays of (i+1) ms and a recording sleep."""
    return tuple((i + 1) / 1000 for i in range(n)), Sleeps()


def terr(status: int) -> TransportError:
    return TransportError(status)


def factory_of(*results: StubImage | BaseException):
    """A newImage func returning (or raising) the given results in order; counts calls."""
    calls = []

    def new_image() -> StubImage:
        item = results[min(len(calls), len(results) - 1)]
        calls.append(item)
        if isinstance(item, BaseException):
            raise item
        return item

    new_image.calls = calls  # type: ignore[attr-defined]
    return new_image


# -- Suite OpenRemoteImage ------------------------------------------------------------------------


def test_successful_first_attempt_returns_the_image_immediately_with_no_retries(memlog):
    logger, _ = memlog
    delays, sleeps = swap_retry_timing(3)
    stub = StubImage(sha="sha-1")
    img = open_remote_image(lambda: stub, logger=logger, delays=delays, sleep=sleeps)
    assert stub.top_layer_calls == 1
    assert sleeps.calls == []
    assert img is stub
    assert img.top_layer() == "sha-1"


def test_transient_failures_succeeds_after_transient_registry_errors(memlog):
    logger, _ = memlog
    delays, sleeps = swap_retry_timing(4)
    new_image = factory_of(
        StubImage(err=terr(500)), StubImage(err=terr(500)), StubImage(sha="sha-1")
    )
    img = open_remote_image(new_image, logger=logger, delays=delays, sleep=sleeps)
    assert len(new_image.calls) == 3
    assert sleeps.calls == [0.001, 0.002]
    assert img.top_layer() == "sha-1"


@pytest.mark.parametrize("status", [401, 403, 400, 405, 429])
def test_non_retryable_transport_errors_do_not_retry(memlog, status):
    logger, handler = memlog
    delays, sleeps = swap_retry_timing(4)
    new_image = factory_of(StubImage(err=terr(status)))
    with pytest.raises(TransportError) as info:
        open_remote_image(new_image, logger=logger, delays=delays, sleep=sleeps)
    found = find_transport_error(info.value)
    assert found is not None and found.status_code == status
    assert len(new_image.calls) == 1
    assert sleeps.calls == []
    assert handler.records == []  # no warning either


def test_all_retries_exhausted_returns_the_last_error_after_all_attempts_fail(memlog):
    logger, _ = memlog
    delays, sleeps = swap_retry_timing(3)
    errors = [ClientError(f"transient error {i}") for i in (1, 2, 3)] + [ClientError("final error")]
    new_image = factory_of(*(StubImage(err=e) for e in errors))
    with pytest.raises(ClientError) as info:
        open_remote_image(new_image, logger=logger, delays=delays, sleep=sleeps)
    assert len(new_image.calls) == 4
    assert len(sleeps.calls) == 3
    # what retry_test.go leaves unchecked: the very last error comes back, unchanged
    assert info.value is errors[-1]
    assert str(info.value) == "final error"


def test_factory_returns_error_retries_when_image_creation_fails(memlog):
    logger, _ = memlog
    delays, sleeps = swap_retry_timing(3)
    new_image = factory_of(
        ClientError("connection refused"),
        ClientError("connection refused"),
        StubImage(sha="sha-1"),
    )
    img = open_remote_image(new_image, logger=logger, delays=delays, sleep=sleeps)
    assert len(new_image.calls) == 3
    assert len(sleeps.calls) == 2
    assert img.top_layer() == "sha-1"


def test_retry_logging_logs_warning_for_failed_attempts_and_info_on_success(memlog):
    logger, handler = memlog
    delays, sleeps = swap_retry_timing(4)
    new_image = factory_of(StubImage(err=terr(500)), StubImage(err=terr(500)), StubImage("sha-1"))
    open_remote_image(new_image, logger=logger, delays=delays, sleep=sleeps)
    assert len(handler.levels(logging.INFO)) == 1
    assert len(handler.levels(logging.WARNING)) == 2


def test_zero_retry_delays_makes_a_single_attempt_and_returns_the_error(memlog):
    logger, _ = memlog
    delays, sleeps = swap_retry_timing(0)
    stub = StubImage(err=ImageError("image has no layers"))
    with pytest.raises(ImageError):
        open_remote_image(lambda: stub, logger=logger, delays=delays, sleep=sleeps)
    assert stub.top_layer_calls == 1
    assert sleeps.calls == []


# -- Suite isRetryable ----------------------------------------------------------------------------


def test_is_retryable_generic_error():
    assert is_retryable(Exception("something went wrong")) is True


@pytest.mark.parametrize("status", [500, 502])
def test_is_retryable_server_errors(status):
    assert is_retryable(TransportError(status)) is True


@pytest.mark.parametrize("status", [400, 401, 403, 405, 429])
def test_is_retryable_refuses(status):
    assert is_retryable(TransportError(status)) is False


# -- what retry_test.go does not cover ------------------------------------------------------------


def test_wrapped_transport_error_is_found_through_the_chain():
    inner = TransportError(401, request=RequestInfo("GET", "http://r/v2/a/manifests/b"))
    wrapped = RepoStoreError("r/a:b", inner)
    assert str(wrapped) == (
        'connect to repo store "r/a:b": GET http://r/v2/a/manifests/b: '
        "unexpected status code 401 Unauthorized"
    )
    assert is_retryable(wrapped) is False
    # explicit `raise ... from`, an implicit context, and an exception group all count
    try:
        try:
            raise TransportError(403)
        except TransportError as e:
            raise RuntimeError("failed to create new app image") from e
    except RuntimeError as outer:
        assert is_retryable(outer) is False
    try:
        try:
            raise TransportError(405)
        except TransportError:
            raise ValueError("while handling") from None
    except ValueError as suppressed:
        assert is_retryable(suppressed) is True  # `from None` hides the context, as Go would
    try:
        try:
            raise TransportError(429)
        except TransportError:
            raise ValueError("during handling")  # noqa: B904 - the implicit context is the point
    except ValueError as implicit:
        assert is_retryable(implicit) is False
    assert is_retryable(ExceptionGroup("several", [ValueError("x"), TransportError(401)])) is False


@pytest.mark.parametrize("status", [404, 408, 500, 503, 504, 499, 522, 418])
def test_other_statuses_are_retryable_bare_and_wrapped(status):
    assert is_retryable(TransportError(status)) is True
    assert is_retryable(RepoStoreError("r/a:b", TransportError(status))) is True


def test_only_the_status_counts_not_the_diagnostics():
    from flakymirror.client.errors import Diagnostic

    assert is_retryable(TransportError(404, [Diagnostic("UNAUTHORIZED", "x")])) is True
    assert is_retryable(TransportError(401, [Diagnostic("UNKNOWN", "x")])) is False


def test_404_is_retried_until_the_end(memlog):
    logger, handler = memlog
    sleeps = Sleeps()
    err = RepoStoreError("r/a:b", TransportError(404))
    new_image = factory_of(StubImage(err=err))
    with pytest.raises(RepoStoreError) as info:
        open_remote_image(new_image, logger=logger, sleep=sleeps)
    assert info.value is err
    assert len(new_image.calls) == 6
    assert sleeps.calls == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert len(handler.levels(logging.WARNING)) == 5
    assert handler.levels(logging.INFO) == []


def test_log_texts_with_the_default_delays(memlog):
    logger, handler = memlog
    sleeps = Sleeps()
    new_image = factory_of(*(StubImage(err=ImageError("image has no layers")) for _ in range(6)))
    with pytest.raises(ImageError, match="^image has no layers$"):
        open_remote_image(new_image, logger=logger, sleep=sleeps)
    assert handler.levels(logging.WARNING) == [
        "Failed to open remote image (attempt 1/6): image has no layers, retrying in 100ms",
        "Failed to open remote image (attempt 2/6): image has no layers, retrying in 200ms",
        "Failed to open remote image (attempt 3/6): image has no layers, retrying in 500ms",
        "Failed to open remote image (attempt 4/6): image has no layers, retrying in 1s",
        "Failed to open remote image (attempt 5/6): image has no layers, retrying in 2s",
    ]
    assert sleeps.calls == list(LIFECYCLE_DELAYS)
    assert sum(sleeps.calls) == pytest.approx(3.8)


def test_info_text_counts_retries_not_attempts(memlog):
    logger, handler = memlog
    new_image = factory_of(
        StubImage(err=ImageError("image has no layers")),
        StubImage(err=ImageError("image has no layers")),
        StubImage("sha256:abc"),
    )
    open_remote_image(new_image, logger=logger, sleep=Sleeps())
    assert handler.levels(logging.INFO) == ["Successfully opened remote image after 2 retries"]


def test_a_late_non_retryable_error_stops_without_a_warning_for_it(memlog):
    logger, handler = memlog
    sleeps = Sleeps()
    new_image = factory_of(StubImage(err=terr(503)), StubImage(err=terr(429)), StubImage("x"))
    with pytest.raises(TransportError) as info:
        open_remote_image(new_image, logger=logger, sleep=sleeps)
    assert info.value.status_code == 429
    assert sleeps.calls == [0.1]
    assert handler.levels(logging.WARNING) == [
        "Failed to open remote image (attempt 1/6): unexpected status code 503 "
        "Service Unavailable, retrying in 100ms"
    ]


def test_default_logger_and_default_sleep(monkeypatch, caplog):
    recorded = Sleeps()
    monkeypatch.setattr("time.sleep", recorded)
    new_image = factory_of(StubImage(err=ImageError("image has no layers")), StubImage("sha"))
    with caplog.at_level(logging.INFO, logger="flakymirror.client"):
        open_remote_image(new_image)
    assert recorded.calls == [0.1]
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "flakymirror.client",
            "WARNING",
            "Failed to open remote image (attempt 1/6): image has no layers, retrying in 100ms",
        ),
        ("flakymirror.client", "INFO", "Successfully opened remote image after 1 retries"),
    ]


def test_custom_delays_print_in_go_form(memlog):
    logger, handler = memlog
    new_image = factory_of(StubImage(err=ImageError("e")), StubImage("ok"))
    open_remote_image(new_image, logger=logger, delays=(1.5, 0.00025), sleep=Sleeps())
    assert handler.levels(logging.WARNING) == [
        "Failed to open remote image (attempt 1/3): e, retrying in 1.5s"
    ]


def test_programming_errors_in_new_image_are_retried_like_any_error(memlog):
    # lifecycle retries every error that is not a deny-listed transport error
    logger, _ = memlog
    new_image = factory_of(KeyError("boom"), StubImage("ok"))
    assert open_remote_image(new_image, logger=logger, sleep=Sleeps()).top_layer() == "ok"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.1, "100ms"),
        (0.2, "200ms"),
        (0.5, "500ms"),
        (1, "1s"),
        (2, "2s"),
        (1.5, "1.5s"),
        (0.00025, "250µs"),
        (0.0015, "1.5ms"),
        (1e-9, "1ns"),
        (0.001, "1ms"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3723.5, "1h2m3.5s"),
        (3600, "1h0m0s"),
        (-0.1, "-100ms"),
        (1.084442185, "1.084442185s"),
    ],
)
def test_go_duration(seconds, text):
    assert go_duration(seconds) == text
