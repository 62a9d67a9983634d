"""The script service: LLM steps (ideation, outline, script). Offline default: a draft writer."""
