// The job drawer: video, actions and six tabs (Info, Outline, Images, Script, Audio, Logs); at a
// review the Script and Audio tabs are the script studio and the narration review (studio.js).
// Everything shown comes from the API; job text is always set as text, never as HTML.
import { api, ApiError, artifactJson, el, clipPlayer } from "./api.js";
import { confirmInPage } from "./confirm.js";
import { bytes, duration, errorText, t, when } from "./i18n.js";
import { REVIEWS, narrationReview, scriptStudio } from "./studio.js";

const EDITABLE = ["DRAFT", "READY"];

export class Drawer {
  constructor(root, { toast, options }) {
    this.root = root;
    this.toast = toast;
    this.options = options;
    this.job = null;
    this.tab = "info";
    this.cache = new Map();
    this.pending = null;
    root.querySelector("#d-close").addEventListener("click", () => this.close());
    for (const button of root.querySelectorAll("[data-tab]")) {
      button.addEventListener("click", () => { this.tab = button.dataset.tab; this.renderPanel(); });
    }
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.root.hidden && !document.querySelector("dialog[open]")) this.close();
    });
  }

  async open(id) {
    this.loads = (this.loads || 0) + 1; // a refresh that started before this open must not undo it
    this.job = await api(`/api/v1/jobs/${id}`);
    this.root.hidden = false;
    this.render();
  }

  close() {
    this.root.hidden = true;
    this.job = null;
  }

  onCard(card) {
    if (!this.job || card.id !== this.job.id || this.pending) return;
    this.pending = setTimeout(async () => {
      this.pending = null;
      if (!this.job || this.job.id !== card.id) return;
      const loads = this.loads;
      const fresh = await api(`/api/v1/jobs/${card.id}`);
      if (loads !== this.loads || !this.job || this.job.id !== card.id) return;
      const before = this.job;
      this.job = fresh;
      // keep what the person is doing: re-render only what changed
      if (before.state !== this.job.state || before.artifacts.length !== this.job.artifacts.length) this.render();
      else { this.renderMeta(); if (this.tab === "logs" || (this.tab === "info" && !EDITABLE.includes(this.job.state))) this.renderPanel(); }
    }, 250);
  }

  render() {
    this.renderMeta();
    this.renderVideo();
    this.renderActions();
    this.renderPanel();
  }

  renderMeta() {
    const job = this.job;
    this.root.querySelector("#d-title").textContent = job.title;
    const meta = this.root.querySelector("#d-meta");
    meta.replaceChildren(
      el("span", { class: `badge ${["FAILED", "CANCELLED"].includes(job.state) ? "alert" : this.options().lifecycle.running_states.includes(job.state) ? "live" : ""}` }, t(job.state)),
      ` ${job.language} · ${t(job.story_type)} · ${Math.round(job.progress)}%`,
      job.eta_s != null ? ` · ${t("eta", { time: duration(job.eta_s) })}` : "",
    );
  }

  artifact(name) {
    return this.job.artifacts.find((a) => a.name === name);
  }

  renderVideo() {
    const box = this.root.querySelector("#d-video");
    const video = this.artifact("video.mp4");
    if (!video) { box.replaceChildren(); return; }
    const shorts = this.job.artifacts.map((a) => a.name).filter((name) => /^short-\d+\.mp4$/.test(name)).sort();
    const links = ["video.mp4", ...shorts, "thumbnail.jpg", "subtitles.srt", "subtitles.vtt"]
      .map((name) => this.artifact(name))
      .filter(Boolean)
      .map((a) => el("a", { href: a.url, download: a.name, class: "button ghost" }, `${t("download")} ${a.name}`));
    const thumb = this.artifact("thumbnail.jpg");
    box.replaceChildren(
      el("video", { controls: true, preload: "metadata", src: video.url, poster: thumb ? thumb.url : null, class: "player" }),
      el("div", { class: "downloads" }, links),
    );
  }

  renderActions() {
    const job = this.job;
    const box = this.root.querySelector("#d-actions");
    const buttons = [];
    if (this.options().lifecycle.running_states.includes(job.state)) {
      buttons.push(el("button", { class: "danger", id: "d-cancel", onclick: () => this.confirmCancel() }, t("cancel")));
    }
    if (job.state === "CANCELLED") {
      buttons.push(el("button", { class: "primary", id: "d-resume", onclick: () => this.act("resume") }, t("resume")));
    }
    if (job.state === "FAILED") {
      const instruction = el("textarea", { id: "d-instruction", rows: 2, maxlength: 4000, placeholder: t("retryInstruction") });
      buttons.push(instruction, el("button", {
        class: "primary", id: "d-retry",
        onclick: () => this.act("retry", instruction.value.trim() ? { instruction: instruction.value.trim() } : {}),
      }, t("retry")), el("button", {
        class: "ghost", id: "d-retry-config",
        onclick: () => this.act("retry", { current_config: true, ...(instruction.value.trim() ? { instruction: instruction.value.trim() } : {}) }),
      }, t("retryCurrentConfig")));
    }
    if (["FAILED", "CANCELLED", "DONE"].includes(job.state)) {
      buttons.push(el("button", { class: "ghost", id: "d-duplicate", onclick: () => this.duplicate() }, t("duplicate")));
    }
    if (job.waiting_review) buttons.unshift(el("p", { class: "review-hint", id: "d-review" }, t(job.state === "RENDER_READY" ? "reviewHintRender" : "reviewHint")));
    if (job.state !== "DONE") {
      const toggle = el("input", { type: "checkbox", id: "d-auto", checked: job.auto_video });
      toggle.addEventListener("change", () => this.setAuto(toggle.checked));
      buttons.push(el("label", { class: "switch" }, toggle, " ", t("autoVideo")));
    }
    if (["RENDER_READY", "DONE"].includes(job.state)) buttons.push(this.renderSettings(job));
    box.replaceChildren(...buttons);
  }

  // What only the render uses (music, captions, end card): change it and render (again); script
  // and narration stay as they are. Only the fields the person changed are sent.
  renderSettings(job) {
    const o = this.options();
    const video = job.config.video || {};
    const chosen = job.render_settings || {};
    const now = {
      music: chosen.music ?? job.options.music ?? (job.config.effects && job.config.effects.music) ?? "none",
      captions: chosen.captions ?? video.captions ?? "lines",
      end_card_s: chosen.end_card_s ?? video.end_card_s ?? 0,
      end_card_text: chosen.end_card_text ?? video.end_card_text ?? "",
    };
    const music = ["none", ...o.music, ...(o.music.includes(now.music) || now.music === "none" ? [] : [now.music])];
    const form = el("form", { class: "render-settings", id: "d-render-form", novalidate: true, "aria-label": t("renderSettings") },
      field(t("music"), el("select", { name: "music" }, music.map((v) => el("option", { value: v, selected: v === now.music }, this.musicName(v)))), "music"),
      field(t("captions"), el("select", { name: "captions" }, ["lines", "words", "off"].map((v) => el("option", { value: v, selected: v === now.captions }, t(`captions_${v}`)))), "captions"),
      field(t("endCardSeconds"), el("input", { name: "end_card_s", type: "number", min: 0, max: 20, step: 0.5, value: now.end_card_s }), "end_card_s"),
      field(t("endCardText"), el("input", { name: "end_card_text", maxlength: 120, value: now.end_card_text, placeholder: t("endCardTitle") }), "end_card_text"),
      el("button", { class: "primary", type: "submit", id: "d-render" }, t(job.state === "DONE" ? "renderAgain" : "renderNow")),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      data.end_card_s = Number(data.end_card_s);
      const changed = Object.fromEntries(Object.entries(data).filter(([k, v]) => v !== now[k]));
      form.querySelectorAll(".error").forEach((p) => { p.textContent = ""; });
      try {
        await api(`/api/v1/jobs/${job.id}/render`, { method: "POST", json: changed });
        this.toast(t("renderStarted"));
        await this.open(job.id);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const slot = error.field && form.querySelector(`[data-error-for="${error.field}"]`);
        if (slot) slot.textContent = error.message; else this.toast(errorText(error), "error");
      }
    });
    return form;
  }

  async duplicate() {
    try {
      const copy = await api(`/api/v1/jobs/${this.job.id}/duplicate`, { method: "POST" });
      this.toast(t("duplicated", { title: copy.title }));
      await this.open(copy.id);
    } catch (error) {
      if (error instanceof ApiError) this.toast(errorText(error), "error"); else throw error;
    }
  }

  async act(action, body) {
    try {
      await api(`/api/v1/jobs/${this.job.id}/${action}`, { method: "POST", json: body });
      await this.open(this.job.id);
    } catch (error) {
      if (error instanceof ApiError) this.toast(errorText(error), "error"); else throw error;
    }
  }

  async confirmCancel() {
    const yes = await confirmInPage({ text: t("cancelConfirm", { title: this.job.title }), yes: t("cancelJob"), no: t("keepRunning") });
    if (yes) await this.act("cancel");
  }

  async setAuto(enabled) {
    try {
      await api(`/api/v1/jobs/${this.job.id}/auto-video`, { method: "PUT", json: { enabled } });
    } catch (error) {
      if (error instanceof ApiError) this.toast(errorText(error), "error"); else throw error;
    }
  }

  async renderPanel() {
    for (const button of this.root.querySelectorAll("[data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === this.tab));
    }
    const panel = this.root.querySelector("#d-panel");
    const job = this.job;
    const tab = this.tab;
    const drawn = (this.drawn = (this.drawn || 0) + 1); // the latest drawing wins, whichever ends first
    const content = await this[`tab_${tab}`](job);
    if (this.drawn === drawn && this.job && this.job.id === job.id && this.tab === tab) panel.replaceChildren(...[content].flat());
  }

  async json(name) {
    const artifact = this.artifact(name);
    if (!artifact) return null;
    const key = artifact.sha256;
    if (!this.cache.has(key)) this.cache.set(key, await artifactJson(this.job, name));
    return this.cache.get(key);
  }

  async tab_info(job) {
    if (EDITABLE.includes(job.state)) return this.editForm(job);
    const rows = [
      [t("language"), job.language], [t("storyType"), t(job.options.story_type)],
      [t("duration"), t(job.options.duration_preset)], [t("voice"), job.options.voice_preset || t("defaultVoice")],
      [t("visualMode"), t(job.options.visual_mode)], [t("imagesCount"), job.options.images_count],
      [t("music"), this.musicName((job.render_settings || {}).music ?? job.options.music ?? (job.config.effects && job.config.effects.music))],
      [t("captions"), t(`captions_${(job.render_settings || {}).captions ?? (job.config.video || {}).captions ?? "lines"}`)],
      [t("autoVideo"), job.auto_video ? t("on") : t("off")], [t("stepByStep"), job.options.step_by_step ? t("on") : t("off")],
      [t("created"), when(job.created_at)],
      [t("updated"), when(job.updated_at)],
    ];
    if (job.last_error) rows.push([t("error"), job.last_error]);
    const usage = (step) => { // what the step's provider reported: tokens, characters, estimated cost
      const done = job.events.filter((e) => e.type === "step_completed" && e.step === step).pop();
      const m = (done && done.payload.metrics) || {};
      return [
        m.input_tokens != null ? `${m.input_tokens} → ${m.output_tokens} ${t("tokens")}` : null,
        m.characters != null ? `${m.characters} ${t("characters")}` : null,
        m.cost_usd != null ? `≈ $${m.cost_usd.toFixed(4)}` : null,
      ].filter(Boolean).join(" · ");
    };
    const steps = el("table", { class: "steps" },
      el("tr", {}, el("th", {}, t("step")), el("th", {}, t("status")), el("th", {}, t("attempt")), el("th", {}, t("duration_s")), el("th", {}, t("usage"))),
      job.steps.map((s) => el("tr", { dataset: { step: s.step, status: s.status } }, el("td", {}, t(s.step)), el("td", {}, stepStatus(s)), el("td", {}, s.attempt), el("td", {}, stepTime(s)),
        el("td", { class: "usage" }, usage(s.step)))));
    const versions = Object.entries(job.config.versions || {}).map(([key, version]) => el("li", {}, `${key} v${version}`));
    return [
      el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])),
      steps,
      el("h4", {}, t("manifest")),
      el("ul", { class: "manifest" }, versions),
      el("p", { class: "brief" }, job.brief),
    ];
  }

  editForm(job) {
    const o = this.options();
    const select = (name, values, current, label = (v) => t(v)) => el("select", { name },
      values.map((v) => el("option", { value: v, selected: v === current }, label(v))));
    const form = el("form", { class: "edit", novalidate: true },
      field(t("title"), el("input", { name: "title", value: job.title, maxlength: 200 }), "title"),
      field(t("brief"), el("textarea", { name: "brief", rows: 5 }, job.brief), "brief"),
      field(t("language"), select("language", o.languages, job.language, (v) => v), "language"),
      field(t("storyType"), select("story_type", o.story_types, job.options.story_type), "story_type"),
      field(t("duration"), select("duration_preset", o.duration_presets, job.options.duration_preset), "duration_preset"),
      field(t("voice"), el("select", { name: "voice_preset" },
        el("option", { value: "" }, t("defaultVoice")),
        o.voice_presets.map((v) => el("option", { value: v, selected: v === job.options.voice_preset }, v))), "voice_preset"),
      field(t("visualMode"), select("visual_mode", o.visual_modes, job.options.visual_mode), "visual_mode"),
      field(t("imagesCount"), el("input", { name: "images_count", type: "number", min: 1, max: 10, value: job.options.images_count }), "images_count"),
      field(t("music"), el("select", { name: "music" },
        ["", "none", ...o.music, ...(job.options.music && !o.music.includes(job.options.music) && job.options.music !== "none" ? [job.options.music] : [])]
          .map((v) => el("option", { value: v, selected: v === (job.options.music || "") }, v ? this.musicName(v) : t("recipeMusic")))), "music"),
      el("button", { class: "primary", type: "submit" }, t("save")),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      data.images_count = Number(data.images_count);
      if (!data.voice_preset) delete data.voice_preset;
      if (!data.music) delete data.music;
      form.querySelectorAll(".error").forEach((p) => { p.textContent = ""; });
      try {
        await api(`/api/v1/jobs/${job.id}`, { method: "PATCH", json: data });
        await this.open(job.id);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        for (const problem of error.errors.length ? error.errors : [{ field: error.field, message: error.message }]) {
          const slot = form.querySelector(`[data-error-for="${problem.field}"]`);
          if (slot) slot.textContent = problem.message; else this.toast(errorText(error), "error");
        }
      }
    });
    return form;
  }

  musicName(music) {
    if (!music || music === "none") return t("noMusic");
    return this.options().music.includes(music) ? t(`music_${music}`) : t("uploadedMusic", { id: music.slice(0, 8) });
  }

  async tab_outline() {
    const script = await this.json("outline.json");
    if (!script) return el("p", { class: "empty" }, t("nothingYet"));
    return el("ol", { class: "outline" }, script.sections.map((s) => el("li", {}, s.heading)));
  }

  async tab_images(job) {
    const pictures = job.images.map((id) => `/api/v1/uploads/${id}`);
    const generated = job.artifacts.filter((a) => /^background-\d+\.jpg$/.test(a.name))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    pictures.push(...generated.map((a) => a.url));
    const thumb = this.artifact("thumbnail.jpg");
    if (thumb) pictures.unshift(thumb.url);
    const gallery = el("div", { class: "gallery" }, pictures.map((src) => el("img", {
      src, alt: "", loading: "lazy", onclick: () => lightbox(src), onerror: clipInstead,
    })));
    const parts = [];
    if (!job.images.length) parts.push(el("p", { class: "empty" }, t(generated.length ? "generatedImages" : "noImages", { n: generated.length })));
    if (pictures.length) parts.push(gallery);
    if (EDITABLE.includes(job.state)) {
      const input = el("input", { type: "file", accept: "image/*,video/*", multiple: true, "aria-label": t("uploadImages") });
      input.addEventListener("change", async () => {
        const ids = [...job.images];
        try {
          for (const file of input.files) {
            const form = new FormData();
            form.append("file", file);
            ids.push((await api("/api/v1/uploads", { method: "POST", form })).id);
          }
          await api(`/api/v1/jobs/${job.id}`, { method: "PATCH", json: { images: ids.slice(0, 10) } });
          await this.open(job.id);
        } catch (error) {
          if (error instanceof ApiError) this.toast(errorText(error), "error"); else throw error;
        }
      });
      parts.push(el("label", { class: "upload" }, t("uploadImages"), input));
    }
    return parts;
  }

  async tab_script(job) {
    if (REVIEWS.includes(job.state)) return scriptStudio(this, job);
    const script = await this.json("outline.json");
    if (!script) return el("p", { class: "empty" }, t("nothingYet"));
    return el("article", { class: "script" },
      el("h3", {}, script.title),
      script.label ? el("blockquote", {}, script.label) : null,
      script.sections.map((s) => [el("h4", {}, s.heading), s.paragraphs.map((p) => el("p", {}, p))]));
  }

  async tab_audio(job) {
    const audio = this.artifact("narration.wav");
    if (!audio) return el("p", { class: "empty" }, t("nothingYet"));
    const cues = await this.json("cues.json");
    // the content's hash in the address: a re-recorded narration keeps its name, not its sound
    const player = el("audio", { controls: true, preload: "metadata", src: `${audio.url}?v=${audio.sha256.slice(0, 16)}`, class: "audio" });
    const list = el("ol", { class: "cues" }, (cues ? cues.cues : []).map((cue) => el("li", {},
      el("button", { class: "link", onclick: () => { player.currentTime = cue.start; player.play(); } }, duration(cue.start)),
      " ", cue.text)));
    const meta = el("p", { class: "meta" }, `${duration(audio.metadata.duration_s)} · ${bytes(audio.size_bytes)}`);
    if (job.state === "TTS_DONE") return [player, meta, ...await narrationReview(this, job, player, cues)];
    return [player, meta, list];
  }

  async tab_logs(job) {
    return el("ol", { class: "logs" }, [...job.events].reverse().map((event) => el("li", { dataset: { type: event.type } },
      el("time", { datetime: event.occurred_at }, when(event.occurred_at)),
      el("span", {}, describe(event)))));
  }
}

// An upload that is not a picture is a clip: show it playing instead.
function clipInstead(event) {
  const picture = event.target;
  picture.replaceWith(clipPlayer(picture.src, { class: "clip" }));
}

// A step's row agrees with the header while it runs: its share done and the time it has taken so far.
function stepStatus(s) {
  return s.status === "running" ? `${t("status_running")} ${Math.round(s.percent)}%` : t(`status_${s.status}`);
}

function stepTime(s) {
  if (s.status === "running" && s.started_at) return duration((Date.now() - Date.parse(s.started_at)) / 1000);
  return duration(s.duration_s);
}

function field(label, input, name) {
  return el("div", { class: "field" }, el("label", {}, label, input), el("p", { class: "error", dataset: { errorFor: name } }));
}

function describe(event) {
  const p = { ...event.payload };
  if (p.step) p.step = t(p.step);
  if (event.type === "auto_transition") { p.from = t(p.from_state); p.to = t(p.to_state); }
  if (event.type === "step_completed") p.duration = duration(p.duration_s);
  if (event.type === "artifact_written") p.size = bytes(p.size_bytes);
  if (event.type === "step_progress") {
    p.percent = Math.round(p.percent);
    // a worker's sentence in the reader's language; a code this page does not know keeps the English text
    const said = p.code ? t(`msg_${p.code}`, p.params || {}) : null;
    if (said && said !== `msg_${p.code}`) p.message = said;
  }
  if (event.type === "auto_video_set") p.state = p.enabled ? t("on") : t("off");
  if (event.type === "render_settings_changed") p.changes = Object.entries(p.settings || {}).map(([k, v]) => `${k} = ${v}`).join(", ");
  return t(`ev_${event.type}`, p);
}

function lightbox(src) {
  const box = document.getElementById("lightbox");
  box.querySelector("img").src = src;
  box.hidden = false;
  box.onclick = () => { box.hidden = true; };
}
