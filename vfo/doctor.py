"""`vfo doctor`: what can work on this machine, and the fix for what cannot.

Providers come from the running stack's registry when there is one (else from the configuration a
fresh install ships). A key is checked for presence, never printed; local endpoints are asked
whether they answer; FFmpeg's hardware encoders are tried on one frame each.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import httpx

from services.registry.registry import load_defaults
from services.render.ffmpeg import HARDWARE_ENCODERS, FFmpeg, ffmpeg_binary
from services.tts import azure
from shared.config import Provider
from shared.errors import VideoFactoryError


@dataclass(frozen=True)
class Finding:
    component: str
    ok: bool
    detail: str


async def _registry_providers(nats_url: str | None) -> tuple[list[Provider], str]:
    if nats_url:
        from shared.bus import Bus
        from shared.configstore import ConfigReader

        try:
            bus = await Bus.connect(nats_url, "doctor")
        except VideoFactoryError:
            pass
        else:
            try:
                reader = ConfigReader(bus)
                found = [
                    await reader.get(f"provider.{name}", Provider) for name in await reader.names("provider")
                ]
                return [item for item, _ in filter(None, found)], "the running stack's registry"
            finally:
                await bus.close()
    shipped = [Provider.model_validate(item) for item in load_defaults().get("providers", [])]
    return shipped, "the shipped defaults (no stack is running)"


async def _reachable(url: str, headers: dict[str, str]) -> str | None:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as err:
        return f"does not answer ({type(err).__name__})"
    if response.status_code in (401, 403):
        return f"refuses the key ({response.status_code})"
    return None


async def _provider(provider: Provider) -> Finding:
    name = f"{provider.type} provider {provider.slug} ({provider.engine})"
    if provider.engine in ("offline-draft", "espeak-ng", "ffmpeg"):
        return Finding(name, True, "built in, no account needed")
    if provider.engine == "azure":
        reason = azure.missing()
        fix = f"{reason}: export both to use Azure neural voices" if reason else "key and region are set"
        return Finding(name, reason is None, fix)
    key = os.environ.get(provider.key_env) if provider.key_env else None
    if provider.key_env and not key:
        return Finding(name, False, f"{provider.key_env} is not set: export it to use this provider")
    if provider.engine == "anthropic":
        base = str(
            provider.settings.get("base_url")
            or os.environ.get("ANTHROPIC_BASE_URL")
            or "https://api.anthropic.com"
        )
        headers = {"x-api-key": key or "", "anthropic-version": "2023-06-01"}
        problem = await _reachable(f"{base.rstrip('/')}/v1/models", headers)
        if problem:
            return Finding(name, False, f"{base} {problem}; check the key and the network")
        return Finding(name, True, f"{provider.key_env} is set; {base} answers")
    if provider.engine == "openai-compatible":
        base = str(provider.settings.get("base_url") or "")
        if not base:
            return Finding(name, False, "settings.base_url is not set: point it at the endpoint (.../v1)")
        problem = await _reachable(
            f"{base.rstrip('/')}/models", {"Authorization": f"Bearer {key}"} if key else {}
        )
        if problem:
            return Finding(name, False, f"{base} {problem}; start the server or fix settings.base_url")
        return Finding(name, True, f"{base} answers")
    return Finding(name, False, f"engine {provider.engine!r} is not one this version knows")


async def _ffmpeg(configured: str | None) -> list[Finding]:
    try:
        binary = ffmpeg_binary(configured)
    except VideoFactoryError as err:
        return [Finding("FFmpeg", False, str(err))]
    ffmpeg = FFmpeg(binary)
    has_x264 = await ffmpeg.listed("libx264")
    findings = [Finding("FFmpeg", has_x264, f"{binary} (libx264 {'present' if has_x264 else 'MISSING'})")]
    for encoder in HARDWARE_ENCODERS:
        if await ffmpeg.listed(encoder):
            failed = await ffmpeg.trial(encoder)
            detail = (
                f"no usable device or driver here ({failed[:120]}); libx264 renders instead"
                if failed
                else "works"
            )
            findings.append(Finding(f"FFmpeg encoder {encoder}", failed is None, detail))
    return findings


async def diagnose(nats_url: str | None, ffmpeg_path: str | None) -> tuple[list[Finding], str]:
    providers, source = await _registry_providers(nats_url)
    findings = [*(await _ffmpeg(ffmpeg_path)), await _espeak()]
    findings += await asyncio.gather(*(_provider(p) for p in providers))
    return findings, source


async def _espeak() -> Finding:
    try:
        from services.tts.espeak import EspeakEngine

        spoken = await EspeakEngine().speak("Ready.", "en-us")
    except Exception as err:  # the library or its data failed to load
        return Finding(
            "offline voice (eSpeak NG)",
            False,
            f"{err}; reinstall: pip install --force-reinstall espeakng-loader",
        )
    seconds = len(spoken.pcm) / 2 / spoken.sample_rate
    return Finding("offline voice (eSpeak NG)", seconds > 0, f"speaks ({seconds:.2f} s for one word)")
