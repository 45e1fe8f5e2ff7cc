"""The settings of what crosses Discord beside a reply's text: voice messages heard and spoken, the images
and files people send, and how replies are delivered (declared here as in sections.py, which gathers them
into :class:`~bot.core.config.sections.Settings`)."""

# No ``from __future__ import annotations`` here: keys.py reads each field's type as the class itself.
from dataclasses import dataclass
from typing import ClassVar

from bot.core.config import checks
from bot.core.config.keys import key


@dataclass(frozen=True)
class VoiceSettings:
    """Voice messages heard and spoken (bot/features/voice/speech.py, bot/features/voice/audio.py)."""

    TITLE: ClassVar[str] = "Voice messages"
    stt_backend: str = key(
        "", "Speech-to-text for received voice messages: openai (an OpenAI-compatible /audio/transcriptions "
        "server, e.g. a local whisper server) or empty (the character says it cannot listen).",
        choices=("", "openai"))
    stt_base_url: str = key("", "Base URL of the transcription server; empty: openai_base_url.")
    stt_model: str = key("whisper-1", "Transcription model.")
    stt_usd_per_minute: float = key(
        0.006, "Price of transcription (USD per minute of audio heard: voice messages and members' speech in "
        "a voice channel), recorded with each call and counted by the daily spend caps; 0 for a free, local "
        "server.", min=0)
    voice_replies: str = key(
        "off", "Also send replies as Discord voice messages: off, mirror (only in answer to a voice message) "
        "or always.", choices=("off", "mirror", "always"))
    tts_backend: str = key(
        "espeak-ng", "Text-to-speech for voice replies: espeak-ng (local, Debian package) or openai (an "
        "OpenAI-compatible /audio/speech server).", choices=("espeak-ng", "openai"))
    tts_base_url: str = key("", "Base URL of the speech server; empty: openai_base_url.")
    tts_model: str = key("tts-1", "Speech model (openai tts_backend).")
    tts_usd_per_million_chars: float = key(
        15.0, "Price of speech (USD per million characters spoken, openai tts_backend), recorded with each "
        "call and counted by the daily spend caps; 0 for a free, local server (espeak-ng is never "
        "charged).", min=0)
    tts_voice: str = key(
        "", "The character's voice (set it in character.env): an openai voice name (empty: alloy) or an "
        "espeak-ng voice (empty: en).")
    voice_timeout: float = key(
        30.0, "Seconds for one voice message's download, one transcription, or one spoken reply (synthesis "
        "and conversion).", above=0)
    max_voice_bytes: int = key(
        25 * 1024 * 1024, "Largest voice message (bytes) downloaded to be transcribed (25 MB: OpenAI's limit "
        "for one transcription); a larger one is not heard.", above=0)
    voice_unheard_reply: str = key(
        "*{name} tilts their head.* I can't listen to voice messages, sorry. Could you type it?",
        "What the character says to a voice message it cannot transcribe ({name} is the character's "
        "name).")
    voice_channels: bool = key(
        False, "Let people call the character into a voice channel (/voice join); server admins may turn "
        "it on or off for their server (/bot voice). It listens only with a speech-to-text backend "
        "(stt_backend).")
    voice_idle_seconds: float = key(
        60.0, "Seconds the character stays in a voice channel nobody else is in before it leaves.",
        above=0)
    voice_utterance_seconds: float = key(
        15.0, "Longest stretch of one member's speech in a voice channel transcribed as one message.",
        above=0)


@dataclass(frozen=True)
class MediaSettings:
    """Images and files a message carries, read for Claude (bot/reply/media.py)."""

    TITLE: ClassVar[str] = "Images and files"
    max_image_bytes: int = key(
        3_932_160, "Largest image (bytes) shown to Claude; Claude takes at most 5 MB of base64 per image, "
        "3,932,160 bytes.", above=0, check=checks.image_bytes)
    max_images_per_message: int = key(4, "Images of one message shown to Claude (0: none).", min=0, max=20)
    image_bytes_in_flight: int = key(
        32 * 1024 * 1024, "Image bytes the whole process holds for replies at once (downloaded, encoded, "
        "sent; about four copies each at the peak): a reply whose images would pass it waits for earlier "
        "replies' calls to end (never refused; one larger alone goes through).", above=0)
    max_attachment_chars: int = key(
        20_000, "Characters of a text file (.txt, .md, source code, .json, .csv) read into the message; a "
        "longer file is cut there, with a note.", min=0)
    max_attachment_tokens: int = key(
        12_000, "Tokens the text files of one message may add to its request together (about 4 characters "
        "each); past it a file is cut and the rest left out, and the character says so "
        "(attachments_left_out_line).", min=0)
    attachment_timeout: float = key(10.0, "Seconds to download one message's attachments.", above=0)
    unreadable_attachment_line: str = key(
        "*{name} squints at {file}.* I can't open that one here, sorry.",
        "The line the character says about files it could not look at ({name}: the character's name, "
        "{file}: the files).")
    attachments_left_out_line: str = key(
        "*{name} eyes the pile of files.* That's a lot to read at once: I only got partway, and left {file} "
        "for later.",
        "The line the character says about text files cut or left out for max_attachment_tokens ({name}: the "
        "character's name, {file}: the files).")


@dataclass(frozen=True)
class DeliverySettings:
    """How a reply reaches the channel (bot/reply/delivery.py)."""

    TITLE: ClassVar[str] = "Reply delivery"
    reply_delivery: str = key(
        "chunked", "whole (one message, split only at the length limit), chunked (a long answer as several "
        "messages at paragraph breaks, typing before each) or streamed (posted as soon as a sentence is "
        "written, then edited as the rest arrives).", choices=("whole", "chunked", "streamed"))
    stream_edit_interval: float = key(
        1.0, "Seconds between edits of a streamed reply (Discord allows about 5 edits per 5 seconds in a "
        "channel).", min=0.2)


@dataclass(frozen=True)
class LookupSettings:
    """Looking things up while replying (bot/features/websearch/): Claude's web search and web fetch. Each
    search costs $0.01 on top of the tokens (counted in usage and the spending limits)."""

    TITLE: ClassVar[str] = "Looking things up"
    web_search: str = key(
        "off", "Let the character search the web while replying (Claude's web_search tool, with its sources "
        "shown under the reply): off, dms (direct messages only) or everywhere. Claude models only.",
        choices=("off", "dms", "everywhere"))
    web_search_max_uses: int = key(3, "Searches one reply may make at most.", min=1, max=20)
    web_search_daily_cap_person: int = key(
        10, "Searches a day for one person's messages (UTC days); past it the character says "
        "web_search_capped_line instead.", min=0)
    web_search_daily_cap_server: int = key(50, "Searches a day in one server, everyone's together.", min=0)
    web_search_allowed_domains: str = key(
        "", "Comma-separated domains searches may return (empty: any; wins over the blocked list).")
    web_search_blocked_domains: str = key("", "Comma-separated domains searches never return.")
    web_search_location: str = key(
        "", "Where the character is, for local results: \"City, Region, CC\" (the time zone is the "
        "character's, timezone); empty: none.")
    web_fetch: bool = key(
        True, "Where web_search is on, also read the links a person posts in the message answered "
        "(Claude's web_fetch tool, held to those links' sites; never where the request carries another "
        "person's private memories).")
    tool_rounds: int = key(
        4, "Model calls one reply may make while tools run (a paused search continued, a tool's result "
        "sent back); past it the reply is what was written so far.", min=1, max=10)
    web_search_capped_line: str = key(
        "*{name} rubs their eyes.* I've looked up all I can for today. Ask me again tomorrow?",
        "What the character says when a reply would search past the day's cap ({name}: the character's "
        "name).")


@dataclass(frozen=True)
class McpSettings:
    """Tools from MCP servers while replying (bot/features/mcp/): the servers a server's admins add
    (/bot mcp add, HTTP only) and the operator's local ones (run as programs on this host, stdio)."""

    TITLE: ClassVar[str] = "MCP tools"
    mcp_tools: bool = key(
        False, "Let server admins add MCP servers (/bot mcp add URL, with an allow-list of its tools) whose "
        "tools the character may use while replying there, beside its own. Each tool's result is read as "
        "data, never as instructions.", restart=True)
    mcp_local_servers: str = key(
        "", "The operator's local MCP servers, run as programs on this host over stdio: "
        "\"name=command arg arg; name2=command ...\". A server's admins turn one on with "
        "/bot mcp add local:name (never a program of theirs: only these).")
    mcp_call_seconds: float = key(
        10.0, "Seconds one MCP call may take (connecting, listing the tools, running one); past it the call "
        "fails, once, with one log line.", above=0, max=120)
    mcp_retry_seconds: float = key(
        300.0, "After a server failed (hung, unreachable, answered garbage), seconds before it is asked "
        "again: until then its tools are left out.", min=0)
    mcp_result_chars: int = key(
        8000, "Characters of one MCP tool's result the character reads at most (the rest is cut).",
        min=100, max=100_000)
    mcp_response_bytes: int = key(
        8_388_608, "Bytes of one answer from an MCP server over HTTP read at most; past it the call fails "
        "(one log line) and the rest is not read, so a server answering without end costs bounded memory.",
        min=65_536, max=67_108_864)
    mcp_max_tools: int = key(10, "MCP tools one request declares at most.", min=1, max=20)
    mcp_in_dms: bool = key(
        False, "Offer the operator's local MCP servers' tools in direct messages too (a DM is private: "
        "what the person says there could be sent to the server).")
    mcp_private_places: bool = key(
        False, "Offer MCP tools in private places too (a private channel or thread, an answer only the "
        "asker sees): what is said there could be sent to the MCP server. /bot mcp private switches it for "
        "a channel or a server.")
    mcp_private_hosts: bool = key(
        False, "Let /bot mcp add name plain http:// and private or loopback addresses (a server on this "
        "host's network); off: https:// to public hosts only.")


@dataclass(frozen=True)
class ServerToolSettings:
    """What the character may look at and do in a server while replying (bot/features/servertools/knowing.py):
    read-only tools, each answering from this server only, and a reaction from an allow-list."""

    TITLE: ClassVar[str] = "Knowing the server"
    server_tools: bool = key(
        False, "Let the character use the server's tools while replying in a server: member_info (a "
        "member's display name, roles and joined date), scheduled_events (the server's events) and "
        "recent_messages (what was said in this channel), and react (below). Read-only; people forgotten "
        "or not remembered (/forget_me, memory_consent) are left out. /bot server-tools switches them off "
        "for a channel or a server (never on past this setting). Their declarations add about 400 input "
        "tokens to each request there, read from the cache after the first.")
    server_tools_recent_lines: int = key(
        30, "Lines of this channel recent_messages returns at most.", min=1, max=100)
    react_emojis: str = key(
        "👍,❤️,😂,🎉,😮,😢", "Comma-separated emoji the character may react with to the message it "
        "answers (the react tool, where server_tools is on; in DMs too); empty: no react tool.")
