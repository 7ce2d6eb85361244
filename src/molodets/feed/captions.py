"""Captions as pieces of text and links (#hashtag → /tag/..., @mention → /@...), for the first
slide the server renders. `static/js/slides.js` splits captions the same way for later slides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

# The same alphabets as `videos.service.parse_caption`: hashtags are letters of any script,
# digits and underscores; mentions are usernames (a trailing dot ends the sentence, not the name).
_TOKEN_RE = re.compile(
    r"(?<![\w#])#(\w{1,100})|(?<![\w@])@([a-z0-9._]{2,24})(?!\w)", re.UNICODE | re.IGNORECASE
)


@dataclass(frozen=True)
class CaptionPart:
    text: str
    href: str | None = None


def caption_parts(caption: str) -> list[CaptionPart]:
    parts: list[CaptionPart] = []
    position = 0
    for match in _TOKEN_RE.finditer(caption):
        tag, mention = match.group(1), match.group(2)
        start, end = match.span()
        if mention is not None:
            name = mention.rstrip(".")
            if len(name) < 2:
                continue
            end = start + 1 + len(name)
            href = f"/@{name.lower()}"
        else:
            href = f"/tag/{quote(tag.casefold(), safe='')}"
        if start > position:
            parts.append(CaptionPart(caption[position:start]))
        parts.append(CaptionPart(caption[start:end], href))
        position = end
    if position < len(caption):
        parts.append(CaptionPart(caption[position:]))
    return parts
