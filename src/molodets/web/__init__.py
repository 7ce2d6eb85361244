"""Server-rendered pages, static assets and translations."""

from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
TRANSLATIONS_DIR = WEB_DIR / "translations"
