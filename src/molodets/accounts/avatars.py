"""Avatars: an uploaded picture becomes square WebP files of a few sizes, with no metadata.

Pillow decodes untrusted bytes here, so we restrict the formats it may try, check the pixel
count from the header before decoding anything, and re-encode from pixels only (EXIF, GPS and
ICC profiles are dropped by construction).
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from molodets.accounts.models import User
from molodets.db import after_commit
from molodets.errors import Problem
from molodets.storage import IMMUTABLE, Storage

AVATAR_SIZES = (96, 256, 512)
AVATAR_MIN_SIDE = 32
# 40 megapixels: any phone photo passes; a "bomb" that claims 50,000 x 50,000 does not.
AVATAR_MAX_PIXELS = 40_000_000
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


def render_avatar(data: bytes) -> dict[int, bytes]:
    """Validate an uploaded image and return WebP bytes per size; 422 if it is not a usable image."""
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise Problem(422, "not_an_image", "The file is not a JPEG, PNG, WebP or GIF image.") from None
    except Image.DecompressionBombError:
        raise Problem(422, "image_too_large", "The image has too many pixels.") from None
    with image:
        width, height = image.size
        if width * height > AVATAR_MAX_PIXELS:
            raise Problem(422, "image_too_large", "The image has too many pixels.")
        if min(width, height) < AVATAR_MIN_SIDE:
            raise Problem(
                422, "image_too_small", f"The image must be at least {AVATAR_MIN_SIDE} pixels on each side."
            )
        try:
            image.seek(0)  # the first frame of an animation
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            # Truncated or corrupt data shows up only when the pixels are decoded.
            raise Problem(422, "not_an_image", "The image is damaged or truncated.") from None
    square = ImageOps.fit(pixels, (AVATAR_SIZES[-1],) * 2, method=Image.Resampling.LANCZOS)
    rendered = {}
    for size in AVATAR_SIZES:
        resized = square if size == square.width else square.resize((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        resized.save(out, format="WEBP", quality=85, method=4)
        rendered[size] = out.getvalue()
    return rendered


def avatar_key(prefix: str, size: int) -> str:
    return f"{prefix}/{size}.webp"


def do_set_avatar(session: Session, storage: Storage, *, user: User, data: bytes) -> None:
    rendered = render_avatar(data)
    digest = hashlib.sha256(data).hexdigest()[:20]
    prefix = f"avatars/{user.id}/{digest}"
    for size, webp in rendered.items():
        storage.put(avatar_key(prefix, size), webp, content_type="image/webp", cache_control=IMMUTABLE)
    _replace_avatar(session, storage, user=user, new_prefix=prefix)


def do_remove_avatar(session: Session, storage: Storage, *, user: User) -> None:
    _replace_avatar(session, storage, user=user, new_prefix=None)


def _replace_avatar(session: Session, storage: Storage, *, user: User, new_prefix: str | None) -> None:
    old_prefix = user.avatar_key
    user.avatar_key = new_prefix
    session.flush()
    if old_prefix and old_prefix != new_prefix:
        # Only once the row points elsewhere for good: a rollback must not leave a broken avatar.
        after_commit(session, lambda: storage.delete_prefix(old_prefix + "/"))


def avatar_urls(storage: Storage, user: User) -> dict[str, str] | None:
    if not user.avatar_key:
        return None
    return {str(size): storage.url(avatar_key(user.avatar_key, size)) for size in AVATAR_SIZES}
