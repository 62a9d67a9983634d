"""The TTS service: narration, cue timings. Offline default: eSpeak NG (bundled by a wheel)."""
