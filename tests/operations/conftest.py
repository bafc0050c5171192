"""Operations fixtures: backups go to a temporary folder."""

import pytest


@pytest.fixture(autouse=True)
def backup_dir(tmp_path, settings):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR
