"""The admin edits an item with a form generated from its kind's JSON schema (raw JSON as an
option), and an error from the server shows next to the field it names."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot


async def test_a_prompt_is_made_in_the_generated_form_with_errors_beside_their_fields(
    page: Page, client: httpx.AsyncClient
):
    # given the admin pages, a new prompt, in the form view (the default)
    await page.click("#admin-link")
    await page.click('[data-kind="prompts"]')
    await page.click("#new-item")
    await expect(page.locator("#schema-form")).to_be_visible()
    assert not await page.is_visible("#editor")
    # when a field is filled with a template that names an unknown variable
    await page.fill("#sf-slug", "hook-form")
    await page.fill("#sf-user_template", "Hook for {{nope}}")
    # then the server's refusal shows beside that field, and saving waits
    beside = page.locator('[data-error-for="user_template"]')
    await expect(beside).to_contain_text("{{nope}}, which no step provides")
    await expect(page.locator("#sf-user_template")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#save")).to_be_disabled()
    # and a number out of its bounds is refused beside its field too
    await page.fill("#sf-user_template", "Hook for {{title}}")
    await page.fill("#sf-temperature", "7")
    await expect(page.locator('[data-error-for="temperature"]')).not_to_be_empty()
    await screenshot(page, "admin-form-errors")
    await page.fill("#sf-temperature", "0.4")
    await expect(page.locator("#validation")).to_contain_text("valid")
    # the JSON view holds what the form says
    await page.click("#view-json")
    shown = json.loads(await page.input_value("#editor"))
    assert shown["slug"] == "hook-form" and shown["temperature"] == 0.4
    assert shown["user_template"] == "Hook for {{title}}"
    # and an edit there reaches the form
    await page.fill("#editor", json.dumps(shown | {"system_prompt": "Open with a question."}))
    await page.click("#view-form")
    await expect(page.locator("#sf-system_prompt")).to_have_value("Open with a question.")
    await page.click("#save")
    await expect(page.locator(".toast")).to_contain_text("Saved hook-form v1")
    saved = (await client.get("/api/v1/registry/prompts/hook-form")).json()
    assert saved["data"]["temperature"] == 0.4 and saved["data"]["system_prompt"] == "Open with a question."
    # an existing item's slug is shown, not editable
    await expect(page.locator("#sf-slug")).to_be_disabled()


async def test_a_preset_form_follows_its_type_and_the_pages_speak_portuguese(page: Page):
    await page.click('[data-ui-lang="pt-BR"]')
    await page.click("#admin-link")
    await page.click('[data-kind="presets"]')
    await expect(page.locator("h2")).to_have_text("Predefinições")
    await page.click("#new-item")
    # a voice preset's fields, then a video preset's once the slug says video.
    await expect(page.locator("#sf-rate_wpm")).to_be_visible()
    await page.fill("#sf-slug", "video.tiny")
    await expect(page.locator("#sf-width")).to_be_visible()
    await expect(page.locator("#sf-slug")).to_be_focused()
    await expect(page.locator("#view-form")).to_have_text("Formulário")
    await screenshot(page, "admin-form-pt")
