"""The Discord edge that is not a cog: the Bot class (client.py), the outlets replies go out through, posting
rules, permission checks, views, start-up messages, gateway identify pacing, attachment downloads and voice
messages. The cogs (cogs/) and main.py use it; nothing below it in the layers does."""
