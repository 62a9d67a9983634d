// The "New video" form: every choice comes from /api/v1/options; errors show next to their field.
import { api, ApiError, clipPlayer, el } from "./api.js";
import { t } from "./i18n.js";

export class NewVideo {
  constructor(dialog, { options, reloadOptions, toast }) {
    this.dialog = dialog;
    this.form = dialog.querySelector("#new-form");
    this.options = options;
    this.reloadOptions = reloadOptions;
    this.toast = toast;
    this.uploads = [];
    this.music = []; // audio uploaded in this form: [id, filename]
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    dialog.querySelector("#new-cancel").addEventListener("click", () => dialog.close());
    dialog.querySelector("#save-template").addEventListener("click", () => this.askTemplateName());
    dialog.querySelector("#template-name-save").addEventListener("click", () => this.saveTemplate());
    dialog.querySelector("#template-name-cancel").addEventListener("click", () => { this.templateRow().hidden = true; });
    dialog.querySelector("#f-template-name").addEventListener("input", (e) => this.showSlug(e.target.value));
    dialog.querySelector("#f-template-name").addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.saveTemplate(); } // not the form's submit
    });
    this.form.elements.template.addEventListener("change", () => this.applyTemplate());
    this.form.elements.visual_mode.addEventListener("change", () => this.toggleUploads());
    dialog.querySelector("#f-images").addEventListener("change", (e) => this.upload(e.target.files));
    dialog.querySelector("#f-music-file").addEventListener("change", (e) => this.uploadMusic(e.target.files[0]));
  }

  fill() {
    const o = this.options();
    const f = this.form.elements;
    const choices = (select, values, label = (v) => t(v), current = select.value) => {
      select.replaceChildren(...values.map(([value, text]) => el("option", { value }, text ?? label(value))));
      if (current && [...select.options].some((opt) => opt.value === current)) select.value = current;
    };
    choices(f.template, [["", t("noTemplate")], ...o.templates.map((tpl) => [tpl.slug, tpl.name])]);
    choices(f.recipe, o.recipes.map((r) => [r.slug, r.name]));
    choices(f.language, o.languages.map((v) => [v, v]));
    choices(f.story_type, o.story_types.map((v) => [v]));
    choices(f.duration_preset, o.duration_presets.map((v) => [v]));
    choices(f.voice_preset, [["", t("defaultVoice")], ...o.voice_presets.map((v) => [v, v])]);
    choices(f.visual_mode, o.visual_modes.map((v) => [v]));
    choices(f.music, [["", t("recipeMusic")], ["none", t("noMusic")], ...o.music.map((v) => [v, t(`music_${v}`)]), ...this.music]);
  }

  open() {
    this.form.reset();
    this.uploads = [];
    this.music = [];
    this.dialog.querySelector("#f-previews").replaceChildren();
    this.templateRow().hidden = true;
    this.fill();
    this.form.elements.duration_preset.value = "medium";
    this.form.elements.recipe.value = this.options().default_recipe;
    this.form.elements.auto_video.checked = this.options().auto_video;
    this.clearErrors();
    this.toggleUploads();
    this.dialog.showModal();
    this.form.elements.title.focus();
  }

  applyTemplate() {
    const slug = this.form.elements.template.value;
    const template = this.options().templates.find((tpl) => tpl.slug === slug);
    if (!template) return;
    for (const name of ["language", "story_type", "duration_preset", "visual_mode", "images_count", "shorts"]) {
      if (template[name] != null) this.form.elements[name].value = template[name];
    }
    this.form.elements.voice_preset.value = template.voice_preset || "";
    if (template.music && !this.options().music.includes(template.music) && template.music !== "none") {
      this.music.push([template.music, t("uploadedMusic", { id: template.music.slice(0, 8) })]); // an uploaded track the template keeps
      this.fill();
    }
    this.form.elements.music.value = template.music || "";
    if (template.auto_video != null) this.form.elements.auto_video.checked = template.auto_video;
    if ([...this.form.elements.recipe.options].some((opt) => opt.value === template.recipe)) this.form.elements.recipe.value = template.recipe;
    this.form.elements.step_by_step.checked = Boolean(template.step_by_step);
    this.toggleUploads();
  }

  toggleUploads() {
    this.dialog.querySelector("#upload-field").hidden = this.form.elements.visual_mode.value !== "manual_upload";
  }

  async upload(files) {
    for (const file of files) {
      const form = new FormData();
      form.append("file", file);
      try {
        const uploaded = await api("/api/v1/uploads", { method: "POST", form });
        this.uploads.push(uploaded.id);
        const src = `/api/v1/uploads/${uploaded.id}`;
        this.dialog.querySelector("#f-previews").append(uploaded.kind === "video"
          ? clipPlayer(src, { title: file.name })
          : el("img", { src, alt: file.name }));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        this.showErrors({ ...error, field: "images" });
      }
    }
  }

  async uploadMusic(file) {
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const uploaded = await api("/api/v1/uploads", { method: "POST", form });
      if (uploaded.kind !== "audio") {
        this.showErrors({ field: "music", message: t("notAudio") });
        return;
      }
      this.music.push([uploaded.id, file.name]);
      this.fill();
      this.form.elements.music.value = uploaded.id;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.showErrors({ ...error, field: "music" });
    }
  }

  values() {
    const f = this.form.elements;
    const body = {
      title: f.title.value,
      brief: f.brief.value,
      language: f.language.value,
      story_type: f.story_type.value,
      duration_preset: f.duration_preset.value,
      visual_mode: f.visual_mode.value,
      images_count: Number(f.images_count.value),
      shorts: Number(f.shorts.value),
      auto_video: f.auto_video.checked,
      step_by_step: f.step_by_step.checked,
    };
    if (f.recipe.value) body.recipe = f.recipe.value;
    if (f.voice_preset.value) body.voice_preset = f.voice_preset.value;
    if (f.music.value) body.music = f.music.value;
    if (this.uploads.length) body.images = this.uploads;
    return body;
  }

  clearErrors() {
    this.form.querySelectorAll(".error").forEach((p) => { p.textContent = ""; });
    this.form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
  }

  showErrors(error) {
    const problems = error.errors && error.errors.length ? error.errors : [{ field: error.field, message: error.message }];
    for (const problem of problems) {
      const name = (problem.field || "form").split(".")[0];
      const slot = this.form.querySelector(`[data-error-for="${name}"]`) || this.form.querySelector('[data-error-for="form"]');
      slot.textContent = problem.message;
      if (this.form.elements[name]) this.form.elements[name].setAttribute("aria-invalid", "true");
    }
  }

  async submit() {
    this.clearErrors();
    try {
      const job = await api("/api/v1/jobs", { method: "POST", json: this.values() });
      this.dialog.close();
      this.toast(t("createdJob", { title: job.title }));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.showErrors(error);
    }
  }

  templateRow() {
    return this.dialog.querySelector("#template-name-row");
  }

  // The template's name is asked for in the form (never a browser prompt), with the slug it gets.
  askTemplateName() {
    const input = this.dialog.querySelector("#f-template-name");
    this.templateRow().hidden = false;
    input.value = "";
    this.showSlug("");
    input.focus();
  }

  showSlug(name) {
    this.dialog.querySelector("#template-slug").textContent = name.trim() ? t("templateSlug", { slug: slugOf(name) }) : "";
  }

  async saveTemplate() {
    const name = this.dialog.querySelector("#f-template-name").value.trim();
    this.clearErrors();
    if (!name) {
      this.showErrors({ field: "name", message: t("templateNameMissing") });
      return;
    }
    const slug = slugOf(name);
    const { title, brief, images, ...choices } = this.values();
    try {
      await api(`/api/v1/templates/${slug}`, { method: "PUT", json: { name, ...choices } });
      await this.reloadOptions();
      this.fill();
      this.form.elements.template.value = slug;
      this.templateRow().hidden = true;
      this.toast(t("templateSaved"));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.showErrors(error);
    }
  }
}

// A template's slug keeps its letters: accents are taken off the letter ("Mistério" -> "misterio"),
// not turned into a break ("miste-rio"). Slugs are ASCII because they travel in URLs and the API's
// slug pattern is [a-z0-9-]; the name keeps every accent. A name with no Latin letter at all gets
// a slug from its characters' code points, so two such names never share one.
export function slugOf(name) {
  const latin = name.toLowerCase().normalize("NFKD").replace(/\p{M}+/gu, "")
    .replace(/ß/g, "ss").replace(/æ/g, "ae").replace(/œ/g, "oe").replace(/ø/g, "o").replace(/đ/g, "d").replace(/ł/g, "l")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/, "");
  if (latin) return latin;
  const points = [...name.trim()].map((c) => c.codePointAt(0).toString(36)).join("").slice(0, 50);
  return points ? `template-${points}` : "template";
}
