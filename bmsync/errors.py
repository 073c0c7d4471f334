"""Every error bmsync raises to its caller, and the exit code the CLI gives each.

    BmsyncError                 base; `exit_code` is what `bmsync sync` exits with (code tells
                                errors apart by type, never by this number)
    ├── ConfigError             bad arguments or settings (2)
    │   ├── RemoteUrlError      not an s3://bucket/prefix URL
    │   ├── StateMismatchError  the state file belongs to another local folder or remote
    │   └── NotInTrashError     `restore` found no such trashed version
    ├── RestoreError            a trashed version could not be written back (1)
    ├── StateError              the snapshot cannot be used (2)
    │   ├── StateCorruptError   not a readable bmsync snapshot
    │   └── StateTooNewError    written by a newer bmsync
    ├── RemoteError             the S3 service refused the whole run (2)
    │   ├── RemoteAuthError     credentials rejected or missing
    │   └── BucketNotFoundError
    ├── CloudError              the Basic Memory Cloud API refused or failed a request (2)
    │   ├── CloudAuthError      no API key found, or the key or login was refused (401)
    │   ├── CloudSubscriptionError  the account has no active subscription (403)
    │   └── CloudUnavailableError   unreachable, or 5xx after retries: worth trying later
    └── LockedError             another sync of this project is running (4)

A safety guard (max-delete, empty side) is not raised either: it comes back as a `SyncReport`
with status "aborted" (exit code 3), so a caller sees what would have happened.
Per-file failures are never raised: they are collected in `SyncReport.errors` and the run goes
on. Every message says what happened and what to do next, because the person reading it is
usually looking at a terminal, not at this code.

A message is read by a Python caller and by a person at the command line alike, so when it asks
for another setting it names it for both: the flag, with the keyword beside it ("use a different
--state-dir (state_dir in Python)"). A guard's reason, which an application may show its own
users, says it in words ("run again with force"); the CLI adds the flags (`SyncReport.guard`).
"""

from __future__ import annotations


class BmsyncError(Exception):
    exit_code = 2


class ConfigError(BmsyncError):
    exit_code = 2


class RemoteUrlError(ConfigError):
    pass


class StateMismatchError(ConfigError):
    pass


class StateError(BmsyncError):
    exit_code = 2


class StateCorruptError(StateError):
    pass


class StateTooNewError(StateError):
    pass


class RemoteError(BmsyncError):
    exit_code = 2


class RemoteAuthError(RemoteError):
    pass


class BucketNotFoundError(RemoteError):
    pass


class CloudError(BmsyncError):
    """A request to the Basic Memory Cloud API failed; `status_code` is None when no answer came."""

    exit_code = 2

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class CloudAuthError(CloudError):
    pass


class CloudSubscriptionError(CloudError):
    """403 `subscription_required`; `subscribe_url` is where the user can subscribe."""

    def __init__(self, message: str, *, subscribe_url: str) -> None:
        super().__init__(message, status_code=403)
        self.subscribe_url = subscribe_url


class CloudUnavailableError(CloudError):
    """The service could not be reached or kept failing (5xx): a later attempt may succeed, so a
    watch loop retries it rather than stopping."""


class NotInTrashError(ConfigError):
    """`restore` found no trashed version matching the request."""


class RestoreError(BmsyncError):
    """The trashed version was found but could not be written to the project folder."""

    exit_code = 1


class LockedError(BmsyncError):
    exit_code = 4
