"""Each Discord permission as Discord's settings name it, for a line that names one (Discord's own names,
which Kindred does not translate: docs/languages.md). Here, under everything, so that a feature's check
names a permission as the Discord edge does."""

from __future__ import annotations

# Each permission as Discord's settings name it (discord.py's flag names, aliases too), for a line that names
# one: Discord's own names, which Kindred does not translate (docs/languages.md).
PERMISSION_NAMES = {
    "add_reactions": "Add Reactions", "administrator": "Administrator", "attach_files": "Attach Files",
    "ban_members": "Ban Members", "bypass_slowmode": "Bypass Slowmode", "change_nickname": "Change Nickname",
    "connect": "Connect", "create_events": "Create Events", "create_expressions": "Create Expressions",
    "create_instant_invite": "Create Invite", "create_polls": "Create Polls", "send_polls": "Create Polls",
    "create_private_threads": "Create Private Threads", "create_public_threads": "Create Public Threads",
    "deafen_members": "Deafen Members", "embed_links": "Embed Links", "external_emojis": "Use External Emoji",
    "use_external_emojis": "Use External Emoji", "external_stickers": "Use External Stickers",
    "use_external_stickers": "Use External Stickers", "kick_members": "Kick Members",
    "manage_channels": "Manage Channels", "manage_emojis": "Manage Expressions",
    "manage_emojis_and_stickers": "Manage Expressions", "manage_expressions": "Manage Expressions",
    "manage_events": "Manage Events", "manage_guild": "Manage Server", "manage_messages": "Manage Messages",
    "manage_nicknames": "Manage Nicknames", "manage_permissions": "Manage Permissions",
    "manage_roles": "Manage Roles", "manage_threads": "Manage Threads", "manage_webhooks": "Manage Webhooks",
    "mention_everyone": "Mention @everyone, @here, and All Roles", "moderate_members": "Timeout Members",
    "move_members": "Move Members", "mute_members": "Mute Members", "pin_messages": "Pin Messages",
    "priority_speaker": "Priority Speaker", "read_message_history": "Read Message History",
    "read_messages": "View Channels", "view_channel": "View Channels", "request_to_speak": "Request to Speak",
    "send_messages": "Send Messages", "send_messages_in_threads": "Send Messages in Threads",
    "send_tts_messages": "Send Text-to-Speech Messages", "send_voice_messages": "Send Voice Messages",
    "set_voice_channel_status": "Set Voice Channel Status", "speak": "Speak", "stream": "Video",
    "use_application_commands": "Use Application Commands", "use_embedded_activities": "Use Activities",
    "use_external_apps": "Use External Apps", "use_external_sounds": "Use External Sounds",
    "use_soundboard": "Use Soundboard", "use_voice_activation": "Use Voice Activity",
    "view_audit_log": "View Audit Log", "view_guild_insights": "View Server Insights",
    "view_creator_monetization_analytics": "View Creator Monetization Analytics",
}


def permission_name(flag: str) -> str:
    """``flag`` (discord.py's name of a permission, "manage_guild") as Discord shows it ("Manage Server"); a
    flag newer than the table as discord.py words it."""
    return PERMISSION_NAMES.get(flag) or flag.replace("_", " ").replace("guild", "server").title()
