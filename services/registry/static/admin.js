// Configuration admin: list, create, edit (a form generated from the kind's schema, or raw JSON; live
// validation, errors next to their field), history with diff, rollback, (de)activate.
import { lang, setLang, t, translatePage, when } from "/static/i18n.js";
import { SchemaForm } from "./schemaform.js";

const R = "/api/v1/registry";
const EXAMPLES = {
  prompts: { slug: "my-prompt", system_prompt: "You write narration scripts.", user_template: "Write about {{title}}: {{brief}}", model: "claude-sonnet-5-5", max_tokens: 4000, temperature: 0.7 },
  providers: { slug: "my-llm", type: "llm", engine: "openai-compatible", settings: { base_url: "http://localhost:11434/v1", model: "llama3" }, key_env: null },
  presets: { slug: "voice.my-voice", voice: "en-us", rate_wpm: 170 },
  validators: { slug: "my-validator", message: "Keep it under 300 words.", max_words: 300 },
  recipes: { slug: "my-recipe", name: "My recipe", format: "16:9", video_preset: "landscape-1080p30" },
  knowledge: { slug: "my-note", tier: 1, title: "Tone", content: "Warm and plain." },
  projects: { slug: "my-channel", name: "My channel", recipes: ["narrated-story"], default_recipe: "narrated-story" },
};

const $ = (s) => document.querySelector(s);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return node;
}
// A browser session sends its CSRF token with every change; without a session, log in first.
const csrf = () => decodeURIComponent((document.cookie.match(/(?:^|;\s*)vfo_csrf=([^;]+)/) || [])[1] || "");
async function call(path, options = {}) {
  const method = options.method || "GET";
  const headers = { ...(options.headers || {}), ...(method === "GET" ? {} : { "X-CSRF-Token": csrf() }) };
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
  const text = await response.text();
  const body = response.headers.get("content-type")?.includes("json") && text ? JSON.parse(text) : text;
  if (!response.ok) throw Object.assign(new Error(body.message || response.statusText), { body });
  return body;
}
const json = (method, body) => ({ method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
function toast(text, kind = "info") {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("#toasts").append(node);
  setTimeout(() => node.remove(), 5000);
}

let current = "prompts";
let me = { role: "viewer", project: "" };
// Admins change configuration; the shared library (every kind but projects) needs a key of every project.
const writable = (kind = current) => me.role === "admin" && (me.project === "*" || kind === "projects");

async function nav() {
  const counts = await call(R);
  $("#kinds").replaceChildren(
    ...Object.entries(counts).map(([kind, n]) => el("button", {
      "aria-current": kind === current ? "page" : null, "data-kind": kind, onclick: () => { current = kind; show(); },
    }, el("span", {}, t(`kind_${kind}`)), el("span", { class: "count" }, String(n)))),
    el("button", { "aria-current": current === "map" ? "page" : null, "data-kind": "map", onclick: () => { current = "map"; show(); } },
      el("span", {}, t("adm_map"))),
    me.role === "admin" ? el("button", { "aria-current": current === "webhooks" ? "page" : null, "data-kind": "webhooks", onclick: () => { current = "webhooks"; show(); } },
      el("span", {}, t("adm_webhooks"))) : null,
  );
}

// Each click that changes the main view takes a number; a view still loading when a newer one was
// asked for is dropped, so a slow answer never replaces what the user went on to open.
let screen = 0;

async function show() {
  const mine = ++screen;
  await nav();
  if (mine !== screen) return;
  if (current === "map") return showMap();
  if (current === "webhooks") return showWebhooks();
  const { items } = await call(`${R}/${current}`);
  if (mine !== screen) return;
  $("#main").replaceChildren(
    el("h2", {}, t(`kind_${current}`)),
    writable() ? el("div", { class: "toolbar" }, el("button", { class: "primary", id: "new-item", onclick: () => edit(null) }, t("adm_new"))) : null,
    el("table", {},
      el("tr", {}, ["adm_name", "adm_version", "adm_state", "adm_changed", "adm_description"].map((h) => el("th", {}, t(h)))),
      items.map((item) => el("tr", { class: "row", "data-slug": item.slug, onclick: () => edit(item) },
        el("td", {}, item.slug),
        el("td", {}, `v${item.version}`),
        el("td", {}, el("span", { class: `badge ${item.active ? "ok" : "off"}` }, t(item.active ? "adm_active" : "adm_inactive")),
          item.key_set === false ? el("span", { class: "badge off", title: t("adm_keyNotSet", { env: item.data.key_env }) }, " ", t("adm_keyMissing")) : null,
          item.key_set === true ? el("span", { class: "badge ok" }, " ", t("adm_keySet")) : null),
        el("td", {}, when(item.created_at)),
        el("td", {}, item.data.description || item.data.name || item.data.title || "")))),
  );
}

const schemas = new Map(); // kind -> {slug prefix: JSON schema}
let view = localStorage.getItem("vfo.admin.view") || "form"; // "form" or "json"

// The schema prefix a slug picks ("" for most kinds; "voice." for a voice preset), or null if none.
function prefixOf(kind, slug) {
  const found = Object.keys(schemas.get(kind) || {});
  return found.includes("") ? "" : found.find((p) => String(slug || "").startsWith(p)) ?? null;
}

async function edit(item) {
  const mine = ++screen;
  const isNew = !item;
  let data = structuredClone(isNew ? EXAMPLES[current] : item.data);
  const kind = current;
  const area = el("textarea", { id: "editor", spellcheck: "false", "aria-label": t("adm_jsonLabel") }, JSON.stringify(data, null, 2));
  const status = el("div", { id: "validation", "aria-live": "polite" });
  const save = el("button", { class: "primary", id: "save" }, t(isNew ? "adm_create" : "adm_saveVersion"));
  const side = el("div", { id: "side" });
  const formBox = el("div", { id: "form-box" });
  let form = null;
  let schemaPrefix = null;
  const views = el("div", { class: "views", role: "group" },
    el("button", { id: "view-form", "aria-pressed": String(view === "form"), onclick: () => switchTo("form") }, t("adm_viewForm")),
    el("button", { id: "view-json", "aria-pressed": String(view === "json"), onclick: () => switchTo("json") }, t("adm_viewJson")));
  const buildForm = async () => { // again when a preset's slug changes its type (voice. -> video.)
    if (!schemas.has(kind)) schemas.set(kind, await call(`${R}/schemas/${kind}`));
    schemaPrefix = prefixOf(kind, data.slug);
    const schema = schemaPrefix == null ? null : schemas.get(kind)[schemaPrefix];
    form = new SchemaForm(schema || { properties: { slug: { type: "string", title: "Slug" } } }, data, {
      locked: isNew ? [] : ["slug"], readOnly: !writable(kind),
      onChange: (changed) => {
        data = changed;
        area.value = JSON.stringify(data, null, 2);
        const prefix = prefixOf(kind, data.slug);
        if (prefix == null || prefix === schemaPrefix) { schedule(); return; }
        buildForm().then(() => { // keep typing in the slug
          const slug = formBox.querySelector("#sf-slug");
          if (slug) { slug.focus(); slug.setSelectionRange(slug.value.length, slug.value.length); }
          schedule();
        });
      },
    });
    formBox.replaceChildren(form.node);
  };
  const switchTo = async (next) => {
    if (next === "form") {
      try { data = JSON.parse(area.value); } catch (error) {
        status.replaceChildren(el("ul", { class: "errors" }, el("li", {}, t("adm_fixJsonFirst", { reason: error.message }))));
        return;
      }
      await buildForm();
    }
    view = next;
    localStorage.setItem("vfo.admin.view", view);
    for (const button of views.querySelectorAll("button")) button.setAttribute("aria-pressed", String(button.id === `view-${view}`));
    formBox.hidden = view !== "form";
    area.hidden = view !== "json";
    validate();
  };
  await buildForm();
  if (mine !== screen) return;
  formBox.hidden = view !== "form";
  area.hidden = view !== "json";
  $("#main").replaceChildren(
    el("h2", {}, isNew ? t("adm_newOf", { kind: t(`kind_${kind}`) }) : `${t(`kind_${kind}`)} / ${item.slug}`),
    el("div", { class: "toolbar" },
      el("button", { onclick: show }, t("adm_all")), writable() ? save : null,
      isNew || !writable() ? null : el("button", { class: item.active ? "danger" : "", id: "toggle", onclick: () => toggle(item) }, t(item.active ? "adm_deactivate" : "adm_activate")),
      isNew ? null : el("span", { class: "meta" }, `v${item.version} · ${item.note}`), el("span", { class: "spacer" }), views),
    el("div", { class: "editor" }, el("div", {}, formBox, area, status), side),
  );
  let timer;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(validate, 250); };
  const validate = async () => {
    let body;
    if (view === "json") {
      try { body = JSON.parse(area.value); } catch (error) {
        status.replaceChildren(el("ul", { class: "errors" }, el("li", {}, t("adm_notJson", { reason: error.message }))));
        area.setAttribute("aria-invalid", "true"); save.disabled = true; return null;
      }
      data = body;
    } else {
      body = data;
    }
    const result = await call(`${R}/${kind}/validate`, json("POST", body));
    area.toggleAttribute("aria-invalid", !result.valid);
    save.disabled = !result.valid;
    const unplaced = form && view === "form" ? form.showErrors(result.errors) : result.errors;
    status.replaceChildren(result.valid ? el("p", { class: "valid" }, t("adm_valid"))
      : el("ul", { class: "errors" }, (view === "form" ? unplaced : result.errors).map((e) => el("li", {}, `${e.field}: ${e.message}`))));
    return result.valid ? body : null;
  };
  area.addEventListener("input", schedule);
  save.addEventListener("click", async () => {
    const body = await validate();
    if (!body) return;
    try {
      const saved = isNew ? await call(`${R}/${kind}`, json("POST", body))
        : await call(`${R}/${kind}/${item.slug}`, json("PUT", body));
      toast(t("adm_saved", { slug: saved.slug, version: saved.version }));
      edit(saved);
    } catch (error) {
      const errors = (error.body && error.body.errors) || [];
      const unplaced = form && view === "form" ? form.showErrors(errors) : errors;
      if (!errors.length || unplaced.length) toast(error.message, "error");
    }
  });
  validate();
  if (!isNew) history(item, side);
}

async function toggle(item) {
  try {
    const saved = await call(`${R}/${current}/${item.slug}/${item.active ? "deactivate" : "activate"}`, { method: "POST" });
    toast(t(saved.active ? "adm_isActive" : "adm_isInactive", { slug: saved.slug }));
    edit(saved);
  } catch (error) { toast(error.message, "error"); }
}

async function history(item, side) {
  const { items } = await call(`${R}/${current}/${item.slug}/versions`);
  const diffBox = el("pre", { class: "diff", id: "diff", hidden: true });
  side.replaceChildren(el("h3", {}, t("adm_history")), el("ol", { class: "history", reversed: true }, items.map((v) =>
    el("li", { "data-version": v.version },
      el("strong", {}, `v${v.version}`), " ", el("span", { class: "meta" }, `${v.note} · ${when(v.created_at)}`), " ",
      v.version > 1 ? el("button", { class: "diff-button", onclick: () => showDiff(item, v.version, diffBox) }, t("adm_diff")) : null, " ",
      v.version !== item.version && writable() ? el("button", { class: "rollback", onclick: () => rollback(item, v.version) }, t("adm_rollBack")) : null))),
  diffBox);
}

async function showDiff(item, version, box) {
  const text = await call(`${R}/${current}/${item.slug}/diff?from=${version - 1}&to=${version}`);
  box.hidden = false;
  box.replaceChildren(...text.split("\n").map((line) => el("div", {
    class: line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "",
  }, line || " ")));
}

async function rollback(item, version) {
  try {
    const saved = await call(`${R}/${current}/${item.slug}/rollback`, json("POST", { version }));
    toast(t("adm_rolledBack", { slug: saved.slug, version, now: saved.version }));
    edit(saved);
  } catch (error) { toast(error.message, "error"); }
}

async function showMap() {
  const recipes = await call(`${R}/map`);
  $("#main").replaceChildren(el("h2", {}, t("adm_mapTitle")), el("div", { class: "map" }, recipes.map((r) =>
    el("section", { "data-recipe": r.recipe },
      el("h3", {}, `${r.name || r.recipe} `, el("span", { class: "badge" }, `v${r.version}`)),
      el("table", {}, el("tr", {}, ["adm_usedFor", "adm_kind", "adm_item", "adm_version"].map((h) => el("th", {}, t(h)))),
        r.uses.map((u) => el("tr", {}, el("td", {}, u.field), el("td", {}, t(`kind_${u.kind}`)), el("td", {}, u.slug),
          el("td", {}, u.version ? `v${u.version}${u.active ? "" : " " + t("adm_inactiveNote")}` : t("adm_missing")))))))));
}

// Webhooks: subscriptions, their delivery log and redelivery (the webhooks service's API).
const W = "/api/v1/webhooks";
const TYPES = ["job.completed", "job.failed", "job.cancelled", "step.completed"];

async function showWebhooks(notice) {
  const subscriptions = await call(W);
  const url = el("input", { id: "hook-url", type: "url", placeholder: "https://example.com/hooks/video-factory", size: 50 });
  const boxes = TYPES.map((type) => el("label", {}, el("input", { type: "checkbox", value: type, checked: type !== "step.completed" }), ` ${type} `));
  const form = el("div", { class: "toolbar" }, url, boxes, el("button", { class: "primary", id: "hook-add", onclick: async () => {
    const body = { url: url.value, event_types: boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value) };
    try {
      const created = await call(W, json("POST", body));
      showWebhooks(el("p", { class: "valid", id: "hook-secret" }, `Signing secret (shown once, store it now): ${created.secret}`));
    } catch (error) { toast(error.message, "error"); }
  } }, "Subscribe"));
  $("#main").replaceChildren(
    el("h2", {}, "Webhooks"), ...(notice ? [notice] : []), form,
    el("table", {}, el("tr", {}, ["URL", "Events", "State", ""].map((h) => el("th", {}, h))),
      subscriptions.map((s) => el("tr", { class: "row", "data-hook": s.id },
        el("td", {}, s.url), el("td", {}, s.event_types.join(", ")),
        el("td", {}, el("span", { class: `badge ${s.active ? "ok" : "off"}` }, s.active ? "active" : `disabled${s.disabled_reason ? ": " + s.disabled_reason : ""}`)),
        el("td", {}, el("button", { class: "deliveries", onclick: () => showDeliveries(s) }, "Deliveries"), " ",
          el("button", { onclick: async () => { const r = await call(`${W}/${s.id}/rotate`, { method: "POST" });
            showWebhooks(el("p", { class: "valid" }, `New secret (shown once; the old one works for 24 h): ${r.secret}`)); } }, "Rotate secret"), " ",
          el("button", { class: s.active ? "danger" : "", onclick: async () => { await call(`${W}/${s.id}`, json("PATCH", { active: !s.active })); showWebhooks(); } },
            s.active ? "Disable" : "Enable"))))),
  );
}

// The log refreshes itself while it is on screen: deliveries arrive as jobs finish.
const DELIVERIES_REFRESH_MS = 2000;

async function showDeliveries(subscription) {
  const deliveries = await call(`${W}/${subscription.id}/deliveries`);
  const view = el("section", { class: "deliveries-view" },
    el("h2", {}, `Deliveries to ${subscription.url}`),
    el("div", { class: "toolbar" }, el("button", { onclick: () => showWebhooks() }, "← Webhooks"),
      el("button", { onclick: () => showDeliveries(subscription) }, "Refresh")),
    el("table", {}, el("tr", {}, ["Event", "Job", "Status", "Attempts", ""].map((h) => el("th", {}, h))),
      deliveries.length ? null : el("tr", { class: "empty" }, el("td", { colspan: 5 }, "No deliveries yet. They appear here as subscribed events happen.")),
      deliveries.map((d) => el("tr", { "data-delivery": d.id },
        el("td", {}, d.event_type), el("td", {}, d.job_id),
        el("td", {}, el("span", { class: `badge ${d.status === "delivered" ? "ok" : d.status === "failed" ? "off" : ""}` }, d.status)),
        el("td", {}, el("ol", { class: "attempts" }, d.attempt_log.map((a) => el("li", {},
          `${a.status_code ?? "no answer"} · ${Math.round(a.latency_ms)} ms · ${new Date(a.at).toLocaleTimeString()}`,
          a.error ? ` · ${a.error}` : "", a.response_excerpt ? ` · “${a.response_excerpt.slice(0, 80)}”` : "")))),
        el("td", {}, el("button", { class: "redeliver", onclick: async () => {
          await call(`${W}/${subscription.id}/deliveries/${d.id}/redeliver`, { method: "POST" });
          toast(`Queued again as ${d.id}`);
        } }, "Redeliver"))))),
  );
  $("#main").replaceChildren(view);
  setTimeout(() => { if (view.isConnected) showDeliveries(subscription).catch(() => {}); }, DELIVERIES_REFRESH_MS);
}

async function start() {
  setLang(lang()); // the language chosen on the board
  translatePage();
  me = await call("/api/v1/session");
  $("#whoami").textContent = `${me.name} · ${me.project === "*" ? t("everyProject") : me.project} · ${t("role_" + me.role)}`;
  $("#log-out").addEventListener("click", async () => {
    await call("/api/v1/session", { method: "DELETE" });
    location.assign("/login?next=/admin");
  });
  await show();
}

start();
