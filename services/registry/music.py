"""Uploaded music an effects preset may name: an audio upload of every project.

An effects preset is shared by every project's recipes, so its music must be every project's too
(uploaded by a key of every project, `*`; or from before uploads had owners). One project's upload
would play in other projects' videos.
"""

from __future__ import annotations

from shared import names
from shared.artifacts import ArtifactStore
from shared.auth import EVERY_PROJECT


class MusicUploads:
    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts

    async def problem(self, upload_id: str) -> str | None:
        """Why an effects preset cannot use the upload as its music, or None."""
        stored, owner = await self.artifacts.owner(names.music_object(upload_id))
        if not stored:
            return f"no audio upload with id {upload_id}"
        if owner not in (None, EVERY_PROJECT):
            return (
                f"the audio upload {upload_id} belongs to project {owner}, and an effects preset serves "
                "every project: upload the music with a key of every project"
            )
        return None

    async def choices(self) -> list[str]:
        """The ids of the audio uploads every project may use, sorted."""
        prefix = names.music_object("")
        owned = await self.artifacts.owned(prefix)
        shared = [name for name, owner in owned.items() if owner in (None, EVERY_PROJECT)]
        return sorted(name.removeprefix(prefix) for name in shared)
