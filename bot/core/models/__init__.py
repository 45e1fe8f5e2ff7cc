"""Model backends behind the one model client (bot/core/claude.py): each speaks one kind of server.

``base`` holds what every backend shares (the request's content, the answer, how a failure is judged);
``anthropic`` speaks the Anthropic Messages API, ``openai`` any OpenAI-compatible Chat Completions server.
"""
