"""The render service: FFmpeg turns narration, cues and images into the video."""
