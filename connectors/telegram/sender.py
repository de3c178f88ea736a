"""Replies through the Bot API's sendMessage with the instance's own python-telegram-bot client.

Where the chat id comes from: envelopes carry only a digest of the chat id (`chat_key`), never the id. In
a private chat the chat id *is* the sender's user id, which the reporter block holds (`user_id`), so the
reply goes to `chat_id = user_id` and, when `chat_key(user_id)` matches the envelope's chat digest (a private
chat), quotes the report with `reply_parameters`. A report written in a group is answered privately to the
user (never in the group, where others would read it); Telegram only allows that once the user has started
the bot, otherwise it answers 403 and the message is recorded as refused. The id is not logged.
"""

from __future__ import annotations

import time
import warnings
from datetime import timedelta

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from connectors.errors import PermanentError, RateLimited, TransientError
from connectors.outbound.sender import SendRefused
from connectors.telegram.client import CREDENTIALS_HINT, BotApi
from connectors.telegram.normalise import chat_key
from schemas.outbound import OutboundMessage


def target(message: OutboundMessage) -> tuple[int, int | None]:
    """(chat_id, message id to quote or None); SendRefused when the report has no Telegram user to answer."""
    envelope = message.reply_to
    user_id = envelope.reporter.user_id
    if not user_id or not user_id.lstrip("-").isdigit():
        raise SendRefused("telegram_no_user: the report came without a sender (channel post or anonymous admin)")
    key, _, message_id = envelope.external_id.partition(":")
    chat_id = int(user_id)
    if key == chat_key(chat_id) and message_id.isdigit():
        return chat_id, int(message_id)
    return chat_id, None


async def send(api: BotApi, message: OutboundMessage) -> str:
    """sendMessage in the reporter's private chat, quoting the report when it was written there; returns
    `<chat key>:<message id>`, the form in which the reporter's reply to it names it (follow-ups)."""
    chat_id, reply_to = target(message)
    reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
    try:
        sent = await api.bot.send_message(chat_id=chat_id, text=message.text, reply_parameters=reply,
                                          reply_markup=location_keyboard(message))
    except TelegramError as err:
        raise classify(err) from err
    return f"{chat_key(chat_id)}:{sent.message_id}"  # as a reply to it names it (Thread.reply_to)


def location_keyboard(message: OutboundMessage) -> ReplyKeyboardMarkup | None:
    """A one-tap "share my location" button when the message asks for the location (router/prompts.py)."""
    if message.ask_location is None:
        return None
    return ReplyKeyboardMarkup([[KeyboardButton(message.ask_location, request_location=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


def classify(err: TelegramError) -> Exception:
    """python-telegram-bot's error -> what the sender loop does with it (no chat ids in the reasons)."""
    if isinstance(err, RetryAfter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            wait = err.retry_after  # int now, a timedelta in a later PTB
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return RateLimited("sendMessage: Telegram flood control", retry_at=time.time() + seconds)
    if isinstance(err, InvalidToken):
        return PermanentError(f"sendMessage: Telegram refused the bot token ({err.message})",
                              hint=CREDENTIALS_HINT, credentials=True)
    if isinstance(err, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot can't initiate conversation with a user"
        return SendRefused(f"telegram_forbidden: {err.message}")
    if isinstance(err, ChatMigrated):
        return SendRefused("telegram_chat_migrated: the chat became a supergroup")
    if isinstance(err, BadRequest):  # a NetworkError subclass in PTB: check it first
        return SendRefused(f"telegram_bad_request: {err.message}")
    if isinstance(err, NetworkError):
        return TransientError(f"sendMessage: {err.message}")
    return TransientError(f"sendMessage: {err.message}")
