"""Pure: one Article (JSON, see model.py) -> an `article` envelope, or Ignored when the filters did not match."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import msgspec

from connectors.errors import BadPayload
from connectors.news.model import Article, normalise_url
from connectors.spec import Ignored, NormaliseContext, Outcome
from schemas import Attachment, Envelope, Reporter, envelope_id

_decoder = msgspec.json.Decoder(Article)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp")


def normalise(raw: bytes, ctx: NormaliseContext) -> Outcome:
    """An article mentioning the configured keywords and regions becomes a public `article` envelope."""
    try:
        article = _decoder.decode(raw)
    except msgspec.DecodeError as err:
        raise BadPayload("malformed_article", str(err)) from err
    if not article.link.startswith(("http://", "https://")):
        raise BadPayload("article_without_link", f"link {article.link[:200]!r} is not an http(s) URL")
    if not article.verdict.passed:
        return Outcome(ignored=(Ignored(reason="no_keyword_match", detail=normalise_url(article.link)),))
    link = normalise_url(article.link)
    summary = plain(article.summary)
    content = plain(article.content)
    body = content if len(content) > len(summary) else summary
    text = "\n\n".join(part for part in (article.title, body, link) if part)
    domain = urlsplit(article.feed_url).hostname or urlsplit(link).hostname
    envelope = Envelope(
        id=envelope_id(ctx.channel, ctx.account, link), channel=ctx.channel, instance=ctx.instance,
        account=ctx.account, external_id=link, kind="article",
        created_at=article.published or article.updated or ctx.received_at, received_at=ctx.received_at,
        reporter=Reporter(handle=article.publisher or domain, display_name=article.feed_title or article.publisher,
                          user_id=domain),
        visibility="public", text=text, subject=article.title or None, language=article.feed_language,
        attachments=tuple(_attachment(m.url, m.media_type) for m in article.media),
    )
    return Outcome(envelopes=(envelope,))


def plain(markup: str) -> str:
    """Feed summaries are HTML fragments: drop tags, unescape entities, keep paragraph breaks."""
    text = re.sub(r"(?i)<\s*(br|/p|/div|/li)\s*/?>", "\n", markup)
    text = html.unescape(_TAG.sub("", text))
    text = _SPACE.sub(" ", text)
    return _LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _attachment(url: str, media_type: str | None) -> Attachment:
    is_image = (media_type or "").startswith("image/") or urlsplit(url).path.lower().endswith(_IMAGE_EXT)
    return Attachment(kind="image" if is_image else "other", media_type=media_type, source_url=url)
