"""Plain text to the Atlassian Document Format that REST v3 requires for rich-text fields.

A blank line starts a new paragraph; a single newline is a hard break. Nothing else is
interpreted: workflow templates produce text, and text is what a person reads in Jira.
"""

from __future__ import annotations


def document(text: str) -> dict:
    """An ADF `doc` holding `text`, one paragraph per blank-line-separated block."""
    blocks = [block for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return {"type": "doc", "version": 1, "content": [paragraph(block) for block in blocks]}


def paragraph(block: str) -> dict:
    content: list[dict] = []
    for index, line in enumerate(block.strip("\n").split("\n")):
        if index:
            content.append({"type": "hardBreak"})
        if line:
            content.append({"type": "text", "text": line})
    return {"type": "paragraph", "content": content}
