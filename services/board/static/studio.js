// The person at the pauses (issue 14). The script studio (the Script tab while the job waits for
// its script's or its narration's review): every section's text and voice, the scene markers, the
// ideas, outline and publishing metadata; each save a new version, with a diff between versions
// and a restore. The narration review (the Audio tab at TTS_DONE): listen with the timed cues and
// re-record one section. Everything shown comes from the API, set as text, never as HTML.
import { api, ApiError, el } from "./api.js";
import { confirmInPage } from "./confirm.js";
import { addTexts, duration, errorText, t, when } from "./i18n.js";

// A viewer sees the review, and edits nothing (the API would refuse it: 403).
const mayEdit = (answer) => answer.editable && document.body.dataset.role !== "viewer";

addTexts("en", {
  approveUnsaved: "Your changes are not saved. Approve the last saved version without them?", approveAnyway: "Approve without them", keepEditing: "Keep editing",
  studioVersion: "Version {n}", versions: "Versions", versionBy: "v{n} · {actor} · {when}",
  restoredFrom: "restores v{n}", rerecordedSection: "section {n} re-recorded", compare: "Compare with v{n}",
  restore: "Restore this version", saveVersion: "Save as a new version", approveContinue: "Approve and continue",
  sectionN: "Section {n}", heading: "Heading", paragraphs: "Text (a blank line between paragraphs)",
  jobVoice: "The job's voice ({voice})", scenes: "Scene markers",
  scenesHint: "Tick the sentences where the picture changes; without markers the pictures are spread evenly.",
  sceneHere: "The picture changes here", moveEarlier: "Move this marker one sentence earlier",
  moveLater: "Move this marker one sentence later", ideas: "Ideas", outlineDraft: "Outline",
  publishing: "Publishing", publishTitle: "Title", publishDescription: "Description", tags: "Tags (comma separated)",
  diffTitle: "Changes from v{from} to v{to}", noChanges: "No changes.", versionSaved: "Version {n} saved.",
  versionRestored: "Version {from} restored as version {n}.", approved: "Approved: the job goes on.",
  notEditable: "Not editable now: {reason}", saveTextFirst: "Save the text first, then move the scene markers.",
  rerecord: "Re-record this section", rerecording: "Re-recording section {n}…", reviewNarration: "Review the narration",
  ev_script_revised: "Script version {version} saved",
});
addTexts("pt-BR", {
  approveUnsaved: "Suas mudanças não foram salvas. Aprovar a última versão salva sem elas?", approveAnyway: "Aprovar sem elas", keepEditing: "Continuar editando",
  studioVersion: "Versão {n}", versions: "Versões", versionBy: "v{n} · {actor} · {when}",
  restoredFrom: "restaura a v{n}", rerecordedSection: "seção {n} regravada", compare: "Comparar com a v{n}",
  restore: "Restaurar esta versão", saveVersion: "Salvar como nova versão", approveContinue: "Aprovar e continuar",
  sectionN: "Seção {n}", heading: "Título da seção", paragraphs: "Texto (uma linha em branco entre parágrafos)",
  jobVoice: "A voz do trabalho ({voice})", scenes: "Marcadores de cena",
  scenesHint: "Marque as frases em que a imagem muda; sem marcadores as imagens são distribuídas por igual.",
  sceneHere: "A imagem muda aqui", moveEarlier: "Mover este marcador uma frase antes",
  moveLater: "Mover este marcador uma frase depois", ideas: "Ideias", outlineDraft: "Estrutura",
  publishing: "Publicação", publishTitle: "Título", publishDescription: "Descrição", tags: "Tags (separadas por vírgula)",
  diffTitle: "Mudanças da v{from} para a v{to}", noChanges: "Nenhuma mudança.", versionSaved: "Versão {n} salva.",
  versionRestored: "Versão {from} restaurada como versão {n}.", approved: "Aprovado: o trabalho continua.",
  notEditable: "Não pode ser editado agora: {reason}", saveTextFirst: "Salve o texto primeiro e depois mova os marcadores de cena.",
  rerecord: "Regravar esta seção", rerecording: "Regravando a seção {n}…", reviewNarration: "Revisar a narração",
  ev_script_revised: "Versão {version} do roteiro salva",
});

addTexts("es", {
  approveUnsaved: "Tus cambios no están guardados. ¿Aprobar la última versión guardada sin ellos?", approveAnyway: "Aprobar sin ellos", keepEditing: "Seguir editando",
  studioVersion: "Versión {n}", versions: "Versiones", versionBy: "v{n} · {actor} · {when}",
  restoredFrom: "restaura la v{n}", rerecordedSection: "sección {n} regrabada", compare: "Comparar con la v{n}",
  restore: "Restaurar esta versión", saveVersion: "Guardar como nueva versión", approveContinue: "Aprobar y continuar",
  sectionN: "Sección {n}", heading: "Título de la sección", paragraphs: "Texto (una línea en blanco entre párrafos)",
  jobVoice: "La voz del trabajo ({voice})", scenes: "Marcadores de escena",
  scenesHint: "Marca las frases en las que cambia la imagen; sin marcadores las imágenes se reparten por igual.",
  sceneHere: "La imagen cambia aquí", moveEarlier: "Mover este marcador una frase antes",
  moveLater: "Mover este marcador una frase después", ideas: "Ideas", outlineDraft: "Estructura",
  publishing: "Publicación", publishTitle: "Título", publishDescription: "Descripción", tags: "Etiquetas (separadas por comas)",
  diffTitle: "Cambios de la v{from} a la v{to}", noChanges: "Sin cambios.", versionSaved: "Versión {n} guardada.",
  versionRestored: "Versión {from} restaurada como versión {n}.", approved: "Aprobado: el trabajo continúa.",
  notEditable: "No se puede editar ahora: {reason}", saveTextFirst: "Guarda primero el texto y luego mueve los marcadores de escena.",
  rerecord: "Regrabar esta sección", rerecording: "Regrabando la sección {n}…", reviewNarration: "Revisar la narración",
  ev_script_revised: "Versión {version} del guion guardada",
});

export const REVIEWS = ["SCRIPT_DONE", "TTS_DONE"];

function paragraphsOf(text) {
  return text.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
}

function voiceSelect(name, current, jobVoice, presets) {
  return el("select", { name },
    el("option", { value: "" }, t("jobVoice", { voice: jobVoice })),
    presets.filter((v) => v !== jobVoice).map((v) => el("option", { value: v, selected: v === current }, v)));
}

async function guarded(drawer, action) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError) drawer.toast(errorText(error), "error"); else throw error;
    return null;
  }
}

export async function scriptStudio(drawer, job) {
  const answer = await api(`/api/v1/jobs/${job.id}/script`);
  return new Studio(drawer, job, answer).render();
}

class Studio {
  constructor(drawer, job, answer) {
    this.drawer = drawer;
    this.job = job;
    this.answer = answer;
    this.script = answer.script;
    this.scenes = new Set(answer.script.scenes);
    this.diffBox = el("div", { class: "diff-box", id: "studio-diff" });
  }

  render() {
    const a = this.answer;
    return [
      el("h3", { class: "studio-head" }, t("studioVersion", { n: a.version })),
      a.editable ? null : el("p", { class: "notice" }, t("notEditable", { reason: a.reason })),
      this.versions(),
      this.diffBox,
      this.form(),
    ].filter(Boolean);
  }

  versions() {
    const a = this.answer;
    return el("details", { class: "versions", open: a.versions.length > 1 },
      el("summary", {}, `${t("versions")} (${a.versions.length})`),
      el("ul", {}, [...a.versions].reverse().map((v) => el("li", { dataset: { version: v.version } },
        t("versionBy", { n: v.version, actor: v.actor, when: v.at ? when(v.at) : "" }),
        v.restored_from ? ` · ${t("restoredFrom", { n: v.restored_from })}` : "",
        v.section ? ` · ${t("rerecordedSection", { n: v.section })}` : "",
        v.version === a.version ? null : [
          " ", el("button", { class: "link compare", onclick: () => this.compare(v.version) }, t("compare", { n: a.version })),
          mayEdit(a) ? [" ", el("button", { class: "link restore", onclick: () => this.restore(v.version) }, t("restore"))] : null,
        ]))));
  }

  async compare(version) {
    const diff = await guarded(this.drawer, () => api(`/api/v1/jobs/${this.job.id}/script/diff?from=${version}&to=${this.answer.version}`));
    if (!diff) return;
    const changed = diff.lines.filter((line) => line.kind !== "same");
    this.diffBox.replaceChildren(
      el("h4", {}, t("diffTitle", { from: diff.from_version, to: diff.to_version })),
      changed.length
        ? el("pre", { class: "diff" }, diff.lines.map((line) => el("span", { class: `diff-${line.kind}` },
          { added: "+ ", removed: "- ", hunk: "", same: "  " }[line.kind], line.kind === "hunk" ? "⋯" : line.text, "\n")))
        : el("p", { class: "empty" }, t("noChanges")));
  }

  async restore(version) {
    const saved = await guarded(this.drawer, () => api(`/api/v1/jobs/${this.job.id}/script/versions/${version}/restore`, { method: "POST" }));
    if (!saved) return;
    this.drawer.toast(t("versionRestored", { from: version, n: saved.version }));
    await this.drawer.open(this.job.id);
  }

  form() {
    const presets = this.drawer.options().voice_presets;
    const jobVoice = this.job.config.voice.slug;
    const s = this.script;
    const meta = s.metadata || { title: "", description: "", tags: [] };
    const sections = s.sections.map((section, i) => el("fieldset", { class: "studio-section" },
      el("legend", {}, t("sectionN", { n: i + 1 })),
      el("label", {}, t("heading"), el("input", { name: `heading-${i}`, value: section.heading, maxlength: 200 })),
      el("label", {}, t("paragraphs"), el("textarea", { name: `text-${i}`, rows: Math.min(12, 2 + section.paragraphs.join(" ").length / 60) }, section.paragraphs.join("\n\n"))),
      el("label", {}, t("voice"), voiceSelect(`voice-${i}`, section.voice_preset, jobVoice, presets)),
      el("p", { class: "error", dataset: { errorFor: `script.sections.${i}` } })));
    this.sceneList = el("ol", { class: "scene-list", start: 1 });
    this.renderScenes();
    const form = el("form", { class: "studio", novalidate: true },
      el("fieldset", { disabled: !mayEdit(this.answer), class: "bare" },
        sections,
        el("fieldset", { class: "studio-scenes" },
          el("legend", {}, t("scenes")),
          el("p", { class: "hint" }, t("scenesHint")),
          this.sceneList,
          el("p", { class: "error", dataset: { errorFor: "script.scenes" } })),
        el("label", {}, t("ideas"), el("textarea", { name: "ideas", rows: 4 }, s.ideas)),
        el("label", {}, t("outlineDraft"), el("textarea", { name: "outline", rows: 4 }, s.outline)),
        el("fieldset", { class: "studio-meta" },
          el("legend", {}, t("publishing")),
          el("label", {}, t("publishTitle"), el("input", { name: "meta-title", value: meta.title, maxlength: 200 })),
          el("label", {}, t("publishDescription"), el("textarea", { name: "meta-description", rows: 3 }, meta.description)),
          el("label", {}, t("tags"), el("input", { name: "meta-tags", value: meta.tags.join(", ") })),
          el("p", { class: "error", dataset: { errorFor: "script.metadata" } })),
        el("p", { class: "error", dataset: { errorFor: "script" } }),
        el("div", { class: "studio-actions needs-operator" },
          el("button", { class: "primary", type: "submit", id: "studio-save" }, t("saveVersion")),
          el("button", { type: "button", id: "studio-approve", onclick: () => this.approve() }, t("approveContinue")))));
    this.unsaved = false;
    form.addEventListener("input", () => { this.unsaved = true; });
    form.addEventListener("change", () => { this.unsaved = true; });
    form.addEventListener("submit", (event) => { event.preventDefault(); this.save(form); });
    return form;
  }

  // Approving takes the saved version: edits not saved yet are asked about, never dropped silently.
  async approve() {
    if (this.unsaved && !(await confirmInPage({ text: t("approveUnsaved"), yes: t("approveAnyway"), no: t("keepEditing") }))) return;
    await approve(this.drawer, this.job);
  }

  renderScenes() {
    const sentences = this.script.sentences.filter((s) => s.index > 0);
    const last = sentences.length;
    const move = (from, to) => { this.scenes.delete(from); this.scenes.add(to); this.renderScenes(); };
    this.sceneList.replaceChildren(...sentences.map((sentence) => {
      const marked = this.scenes.has(sentence.index);
      const box = el("input", { type: "checkbox", checked: marked, "aria-label": t("sceneHere"), dataset: { sentence: sentence.index } });
      box.addEventListener("change", () => { if (box.checked) this.scenes.add(sentence.index); else this.scenes.delete(sentence.index); this.renderScenes(); });
      return el("li", { class: marked ? "scene marked" : "scene", dataset: { sentence: sentence.index } },
        el("label", {}, box, " ", sentence.text),
        marked && sentence.index > 1 && !this.scenes.has(sentence.index - 1)
          ? el("button", { type: "button", class: "link", title: t("moveEarlier"), "aria-label": t("moveEarlier"), onclick: () => move(sentence.index, sentence.index - 1) }, "↑") : null,
        marked && sentence.index < last && !this.scenes.has(sentence.index + 1)
          ? el("button", { type: "button", class: "link", title: t("moveLater"), "aria-label": t("moveLater"), onclick: () => move(sentence.index, sentence.index + 1) }, "↓") : null);
    }));
  }

  async save(form) {
    const value = (name) => form.querySelector(`[name="${name}"]`).value;
    const sections = this.script.sections.map((_, i) => ({
      heading: value(`heading-${i}`), paragraphs: paragraphsOf(value(`text-${i}`)), voice_preset: value(`voice-${i}`) || null,
    }));
    const textChanged = sections.some((section, i) => section.heading !== this.script.sections[i].heading
      || JSON.stringify(section.paragraphs) !== JSON.stringify(this.script.sections[i].paragraphs));
    const scenes = [...this.scenes].sort((x, y) => x - y);
    const scenesChanged = JSON.stringify(scenes) !== JSON.stringify(this.script.scenes);
    if (textChanged && scenesChanged) { this.drawer.toast(t("saveTextFirst"), "error"); return; }
    const tags = value("meta-tags").split(",").map((tag) => tag.trim()).filter(Boolean);
    const metadata = { title: value("meta-title").trim(), description: value("meta-description"), tags };
    const body = {
      base_version: this.answer.version,
      script: {
        sections,
        scenes: textChanged ? null : scenes,
        ideas: value("ideas"),
        outline: value("outline"),
        metadata: this.script.metadata || metadata.title || metadata.description || tags.length ? metadata : null,
      },
    };
    form.querySelectorAll(".error").forEach((slot) => { slot.textContent = ""; });
    try {
      const saved = await api(`/api/v1/jobs/${this.job.id}/script`, { method: "PUT", json: body });
      this.drawer.toast(t("versionSaved", { n: saved.version }));
      await this.drawer.open(this.job.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error, this.drawer);
    }
  }
}

// Each problem in the slot of the field it names (or of its nearest enclosing one), else a toast.
function showErrors(form, error, drawer) {
  const problems = error.errors.length ? error.errors : [{ field: error.field, message: error.message }];
  for (const problem of problems) {
    const parts = String(problem.field || "").split(".");
    let slot = null;
    for (let n = parts.length; n > 0 && !slot; n -= 1) slot = form.querySelector(`[data-error-for="${parts.slice(0, n).join(".")}"]`);
    if (slot) slot.textContent = problem.message; else drawer.toast(errorText(error), "error");
  }
}

async function approve(drawer, job) {
  const done = await guarded(drawer, () => api(`/api/v1/jobs/${job.id}/approve`, { method: "POST" }));
  if (!done) return;
  drawer.toast(t("approved"));
  await drawer.open(job.id);
}

// At the narration's review: each section with its timed cues, its text and voice, re-recorded alone.
export async function narrationReview(drawer, job, player, cues) {
  const answer = await api(`/api/v1/jobs/${job.id}/script`);
  const presets = drawer.options().voice_presets;
  const jobVoice = job.config.voice.slug;
  const sections = answer.script.sections.map((section, i) => {
    const n = i + 1;
    const text = el("textarea", { name: `section-${n}`, rows: 4 }, section.paragraphs.join("\n\n"));
    const voice = voiceSelect(`voice-${n}`, section.voice_preset, jobVoice, presets);
    const error = el("p", { class: "error" });
    const button = el("button", { type: "button", class: "needs-operator", id: `rerecord-${n}`, disabled: !mayEdit(answer) }, t("rerecord"));
    button.addEventListener("click", async () => {
      const body = {};
      const paragraphs = paragraphsOf(text.value);
      if (JSON.stringify(paragraphs) !== JSON.stringify(section.paragraphs)) body.paragraphs = paragraphs;
      if ((voice.value || null) !== section.voice_preset) body.voice_preset = voice.value || jobVoice;
      error.textContent = "";
      try {
        await api(`/api/v1/jobs/${job.id}/narration/sections/${n}`, { method: "POST", json: { ...body, base_version: answer.version } });
        drawer.toast(t("rerecording", { n }));
        await drawer.open(job.id);
      } catch (failure) {
        if (!(failure instanceof ApiError)) throw failure;
        error.textContent = failure.message;
      }
    });
    const timed = (cues ? cues.cues : []).filter((cue) => cue.section === n).map((cue) => el("li", {},
      el("button", { class: "link", onclick: () => { player.currentTime = cue.start; player.play(); } }, duration(cue.start)), " ", cue.text));
    return el("section", { class: "narration-section", dataset: { section: n } },
      el("h4", {}, `${n}. ${section.heading}`),
      el("ol", { class: "cues" }, timed),
      el("label", {}, t("paragraphs"), text),
      el("label", {}, t("voice"), voice),
      button, error);
  });
  return [
    el("h3", {}, t("reviewNarration")),
    ...sections,
    el("div", { class: "studio-actions" },
      el("button", { class: "primary needs-operator", type: "button", id: "narration-approve", onclick: () => approve(drawer, job) }, t("approveContinue"))),
  ];
}
