"""lifecycle's command failures: the exit codes and :class:`LifecycleError`."""

from __future__ import annotations

__all__ = [
    "CODE_EXPORT_ERROR",
    "CODE_FAILED",
    "CODE_INVALID_ARGS",
    "CODE_REBASE_ERROR",
    "LifecycleError",
]

#: lifecycle ``cmd`` exit codes (``CodeFailed``, ``CodeInvalidArgs``, export/rebase errors).
CODE_FAILED = 1
CODE_INVALID_ARGS = 3
CODE_EXPORT_ERROR = 62
CODE_REBASE_ERROR = 72


class LifecycleError(Exception):
    """A failure with lifecycle's exact message and the exit code lifecycle would exit with.

    ``str(err)`` is the text lifecycle prints after ``ERROR: ``; the underlying exception (a
    transport error, for example) stays reachable through ``__cause__``.
    """

    def __init__(self, message: str, exit_code: int = CODE_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    @classmethod
    def fail(
        cls, action: str, err: BaseException | str | None, code: int | None = None
    ) -> LifecycleError:
        """``cmd.FailErr``/``FailErrCode``: ``failed to <action>[: <err>]``.

        Without ``code`` the code of a wrapped :class:`LifecycleError` is kept, else 1.
        """
        if code is None:
            code = err.exit_code if isinstance(err, LifecycleError) else CODE_FAILED
        text = f"failed to {action}" if err is None else f"failed to {action}: {err}"
        out = cls(text, code)
        if isinstance(err, BaseException):
            out.__cause__ = err
        return out
