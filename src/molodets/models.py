"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from molodets.accounts.models import ApiToken, User, UserSession
from molodets.db import Base
from molodets.uploads.models import Upload
from molodets.videos.models import Rendition, Video

__all__ = ["ApiToken", "Base", "Rendition", "Upload", "User", "UserSession", "Video"]
