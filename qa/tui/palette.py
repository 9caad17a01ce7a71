"""Chat commands for the command palette (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, action on the chat screen)
CHAT_COMMANDS = (
    ("New chat", "Clear the conversation; follow-up questions start afresh", "new_chat"),
    ("Export chat as Markdown", "Write the answers and their citations to a .md file here", "export"),
    ("Rebuild index", "Re-embed the whole corpus from scratch", "rebuild"),
    ("Toggle evidence panel", "Show or hide the passages retrieved for the selected answer", "toggle_evidence"),
    ("Open citation", "Show the selected answer's source, scrolled to the cited lines", "open_citation"),
)


class ChatCommands(Provider):
    async def discover(self) -> Hits:
        for title, help_text, action in CHAT_COMMANDS:
            yield DiscoveryHit(title, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in CHAT_COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.screen.run_action, action), help=help_text)
