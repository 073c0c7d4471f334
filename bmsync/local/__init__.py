"""The local side: scanning the folder, ignore rules, atomic writes and the trash."""
