"""The local side: scanning the folder, ignore rules, hashing, atomic writes, the trash, and
`FileSource`, the scanned file an upload reads (`bmsync.ports.LocalSource`)."""
