"""Basic Memory Cloud: the API that hands out the bucket, its credentials and the projects.

    bmconfig.py    basic-memory's `config.json`: where it is, read with errors naming the file
    auth.py        the API token: $BASIC_MEMORY_CLOUD_API_KEY, `cloud_api_key`, `bm cloud login`
    client.py      `CloudClient`: Bearer auth, retries, every failure a `CloudError`
    mount.py       `open_cloud_mount`: the bucket and scoped credentials, as an `S3Config`
    projects.py    list, register (and wait for) projects; pair local folders with them
    permalink.py   basic-memory's permalink of a project name (the path it is created at)
    configured.py  configured projects: (name, local folder, prefix) from `config.json`

An adapter like `s3/`: it knows HTTP and basic-memory's files, not the sync. What it returns
(an `s3://bucket/prefix` URL, an `S3Config`, a local folder) is what every command already
takes. Nothing is re-exported here, so importing one module does not load httpx.
"""
