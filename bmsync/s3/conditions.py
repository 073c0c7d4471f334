"""Conditional writes: whether the store enforces them, and checking them where it does not.

Conditional requests guard against writers the listing did not see: `Create` sends
`If-None-Match: *`, `Update` and `if_match` send `If-Match`. Not every store honours them, and
some ignore them silently (`rclone serve s3` writes through), which no error reveals. So before
the first conditional write of a run the store is probed once (two conditional PUTs of an empty
object under `.bmsync-trash/`, then a DELETE). Where conditions are not enforced, they are
checked just before the write instead, by HEAD (or, for "must not exist", a listing of the
key's folder shared by the checks of its neighbours, `existence`): a narrower guard (a race
stays possible between the check and the write) but far better than none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from botocore.exceptions import ClientError

from bmsync.remotes import TRASH_PREFIX
from bmsync.s3.bucket import Bucket
from bmsync.s3.error_map import (
    TRANSPORT_ERRORS,
    appeared,
    changed,
    describe_error,
    is_precondition_failed,
    rejects_condition,
)
from bmsync.s3.existence import ExistenceChecks
from bmsync.s3.keys import normalise_etag, quote_etag
from bmsync.s3.reads import head_key
from bmsync.types import Create, Overwrite, PutMode, Update

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Condition = Mapping[str, str]
"""The condition arguments of one request (`IfMatch=...`), empty for none."""


def put_condition(mode: PutMode) -> Condition:
    if isinstance(mode, Create):
        return {"IfNoneMatch": "*"}
    if isinstance(mode, Update):
        return {"IfMatch": quote_etag(mode.etag)}
    return {}


class ConditionalWrites:
    """Sends writes with their condition, or checks it first where the store would ignore it.

    `enforced`: whether the store enforces If-Match / If-None-Match; None until learnt (the
    probe runs before the first conditional write), and None for good if the probe itself
    failed: conditions are then sent and trusted as they are.
    """

    def __init__(self, bucket: Bucket, enforced: bool | None) -> None:
        self._bucket = bucket
        self.enforced = enforced
        self._probed = enforced is not None
        self._probe_lock = asyncio.Lock()
        self._existence = ExistenceChecks(bucket)

    async def send(
        self,
        send: Callable[[Condition], Awaitable[_T]],
        condition: Condition,
        check_first: Callable[[], Awaitable[None]],
    ) -> _T:
        """`send(condition)`, or, where the store does not enforce conditions, `check_first()`
        and `send({})`. A store that rejects the condition header itself (NotImplemented,
        InvalidArgument, 501) is remembered as one that does not enforce them."""
        if condition:
            await self._learn()
            if self.enforced is False:
                await check_first()
                return await send({})
        try:
            return await send(condition)
        except ClientError as err:
            if not condition or not rejects_condition(err):
                raise
            rejection = describe_error(err)
        # If the header was not the problem the retry fails the same way, and is raised.
        await check_first()
        result = await send({})
        if self.enforced is not False:
            log.warning(
                "%s rejects conditional requests (%s); checking conditions with HEAD instead",
                self._bucket.location.url,
                rejection,
            )
            self.enforced = False
        return result

    async def check(self, key: str, mode: PutMode, *, missing_ok: bool = False) -> None:
        """Raise `RemoteChanged` unless `key` is as `mode` expects (`missing_ok`: or gone)."""
        if isinstance(mode, Overwrite):
            return
        if isinstance(mode, Create):
            if await self._existence.exists(key):
                raise appeared(self._bucket.url(key))
            return
        meta = await head_key(self._bucket, key)
        if meta is None:
            if not missing_ok:
                raise changed(self._bucket.url(key))
        elif meta.etag != normalise_etag(mode.etag):
            raise changed(self._bucket.url(key))

    async def probe(self) -> bool | None:
        """Find out whether the store enforces `If-None-Match: *` on PUT.

        Writes and deletes an empty object under `.bmsync-trash/`. None when the probe itself
        failed (no permission there, say): conditions are then sent and trusted as they are.
        """
        client, name = self._bucket.client, self._bucket.name
        key = f"{TRASH_PREFIX}/.conditional-write-probe-{uuid.uuid4().hex}"

        async def put_if_absent() -> None:
            await client.put_object(Bucket=name, Key=key, Body=b"", IfNoneMatch="*")

        try:
            await put_if_absent()
            try:
                await put_if_absent()
            except ClientError as err:
                if is_precondition_failed(err):
                    return True
                raise
            return False  # the second create went through: the condition was ignored
        except ClientError as err:
            if rejects_condition(err):
                return False
            self._probe_failed(err)
            return None
        except TRANSPORT_ERRORS as err:
            self._probe_failed(err)
            return None
        finally:
            with contextlib.suppress(ClientError, *TRANSPORT_ERRORS):
                await client.delete_object(Bucket=name, Key=key)

    def _probe_failed(self, err: BaseException) -> None:
        url = self._bucket.location.url
        log.debug("conditional-write probe on %s failed: %s", url, describe_error(err))

    async def _learn(self) -> None:
        if self._probed:
            return
        async with self._probe_lock:
            if not self._probed:
                if self.enforced is None:
                    self.enforced = await self.probe()
                    if self.enforced is False:
                        log.warning(
                            "%s ignores conditional writes; checking conditions with HEAD "
                            "before each write (a concurrent writer can still slip in between)",
                            self._bucket.location.url,
                        )
                self._probed = True
