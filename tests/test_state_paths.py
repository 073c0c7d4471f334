"""Where a project's state lives: one user-only folder per remote, findable by name."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bmsync.errors import ConfigError
from bmsync.state.paths import ProjectPaths, default_state_dir, project_key


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_state_dir_is_the_rclone_era_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BMSYNC_STATE_DIR", raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_state_dir() == Path("/home/someone/.basic-memory/bisync-state")


def test_state_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.setenv("BMSYNC_STATE_DIR", "~/elsewhere")
    assert default_state_dir() == Path("/home/someone/elsewhere")


@pytest.mark.parametrize(
    ("url", "readable"),
    [
        ("s3://bucket/notes", "notes"),
        ("s3://bucket/team/research/", "research"),
        ("s3://bucket", "bucket"),
        ("s3://bucket/", "bucket"),
        ("s3://bucket/My Notes (2026)", "My_Notes__2026_"),
        ("s3://bucket/café", "caf_"),
        ("s3://bucket/.hidden", "hidden"),
        ("s3://bucket/..", "project"),
    ],
)
def test_project_key_is_the_last_segment_and_a_hash(url: str, readable: str) -> None:
    name, digest = project_key(url).rsplit("-", 1)
    assert name == readable
    assert len(digest) == 10 and int(digest, 16) >= 0


def test_project_key_is_cut_to_60_characters() -> None:
    name, _ = project_key("s3://bucket/" + "x" * 200).rsplit("-", 1)
    assert name == "x" * 60


def test_two_remotes_never_share_a_folder() -> None:
    assert project_key("s3://a/notes") != project_key("s3://b/notes")
    assert project_key("s3://a/x/notes") != project_key("s3://a/y/notes")


def test_project_files_live_in_the_project_folder(tmp_path: Path) -> None:
    paths = ProjectPaths.for_remote(tmp_path, "s3://bucket/notes")
    assert paths.root == tmp_path / project_key("s3://bucket/notes")
    assert paths.state_dir == tmp_path
    assert (paths.db, paths.lock, paths.trash) == (
        paths.root / "snapshot.db",
        paths.root / "lock",
        paths.root / "trash",
    )


def test_ensure_creates_user_only_folders(tmp_path: Path) -> None:
    paths = ProjectPaths.for_remote(tmp_path / "a" / "state", "s3://bucket/notes")
    paths.ensure()
    for folder in (paths.state_dir, paths.root, paths.trash):
        assert mode(folder) == 0o700, folder
    paths.ensure()  # a second time changes nothing


def test_ensure_tightens_our_folders_but_not_a_chosen_state_dir(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    paths = ProjectPaths.for_remote(shared, "s3://bucket/notes")
    paths.trash.mkdir(parents=True)
    paths.root.chmod(0o755)
    paths.trash.chmod(0o777)
    paths.ensure()
    assert (mode(paths.root), mode(paths.trash)) == (0o700, 0o700)
    assert mode(shared) == 0o755, "a state dir the user chose is not ours to chmod"


def test_unusable_state_dir_is_a_config_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(ConfigError, match="--state-dir"):
        ProjectPaths.for_remote(not_a_folder, "s3://bucket/notes").ensure()
