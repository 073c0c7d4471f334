"""The S3 side of bmsync.

    client.py       the aiobotocore client: retries, timeouts, headers, timestamp parsing
    aio.py          aiobotocore imported without its unused httpx backend (start-up time)
    cacerts.py      aiohttp imported without waiting for the system's CA certificates
    pool.py         clients kept open between runs of one process, with their connections
    keys.py         pure key <-> path and metadata translations
    dates.py        the two date forms S3 answers carry, read without dateutil
    integrity.py    what an ETag proves about the bytes behind it
    remote.py       `S3Remote`, the pipeline's `RemoteStore` (a facade over the modules below),
                    and `open_remote`
      bucket.py     `Bucket`: the client and location each request is sent with
      listing.py    ListObjectsV2 into a `RemoteListing`
      fastparse.py  a faster parse of ListObjectsV2 answers, the same as botocore's
      markers.py    folder markers: the zero-byte `folder/` objects S3 tools show as folders
      reads.py      HEAD; GET streamed into a sink and verified
      writes.py     uploads (a single PUT), copies, deletes
      multipart.py  large uploads in parts; aborting the stale uploads of killed runs
      conditions.py whether the store enforces If-Match / If-None-Match, checks where it does not
      existence.py  whether keys exist, for many at once, on stores that ignore If-None-Match
      trash.py      the remote trash: preserve, purge, list, download a kept version
      responses.py  what an answer says about an object (identity, times)
      error_map.py  what every botocore and aiohttp error means: run-stopping or one file's
      throttles.py  the store's "slow down" answers, counted per client for `throttled`

The S3 side reads local files only through the `bmsync.ports.LocalSource` it is handed; it
imports nothing from `bmsync.local`. What it is told, the `RemoteLocation` and the `S3Config`, are
values every adapter shares, in `bmsync.remotes`. Nothing is re-exported here, so importing one
module of this package loads no more than it needs (`bmsync.s3.keys` loads no aiobotocore).
"""
