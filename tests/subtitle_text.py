"""What a subtitle file (SRT or WebVTT) says, read in order: its text lines joined by spaces."""

from __future__ import annotations


def subtitle_text(document: str) -> str:
    # a text line never holds the timing arrow: the files write it as "->"
    return " ".join(
        line
        for line in document.splitlines()
        if line and line != "WEBVTT" and not line.isdigit() and " --> " not in line
    )
