"""The S3 side of bmsync.

    url.py        `s3://BUCKET/PREFIX` -> `RemoteLocation`
    config.py     `S3Config`: endpoint, region, credentials, extra headers
    client.py     the aiobotocore client (retries, timeouts, headers) and error translation
    keys.py       pure key <-> path and metadata translations
    integrity.py  what an ETag proves about the bytes behind it
    remote.py     `S3Remote`, the engine's `RemoteStore`, and `open_remote`

Nothing is re-exported here, so importing `bmsync.s3.config` (the CLI does) does not load
aiobotocore.
"""
