"""Client API styles: one module per wire format the gateway speaks to its clients, and the
registry that names them."""

from . import anthropic_messages, gemini, openai_chat, openai_responses

REGISTRY = {
    "chat": openai_chat,
    "messages": anthropic_messages,
    "responses": openai_responses,
    "gemini": gemini,
}
