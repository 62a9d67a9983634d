// Video Factory board: wires the board, drawer and form to the API and the live event stream.
import { api, el, toLogin } from "./api.js";
import { Board } from "./board.js";
import { Drawer } from "./drawer.js";
import { lang, setLang, t, translatePage } from "./i18n.js";
import { NewVideo } from "./modal.js";
import { JobNotices } from "./notify.js";

// every choice, the lifecycle's states and columns, and the pipeline's steps come from the API
let options = null;

const $ = (selector) => document.querySelector(selector);

function announce(text) {
  const node = $("#announcer");
  node.textContent = "";
  requestAnimationFrame(() => { node.textContent = text; });
}

// `action` ({label, run}) adds a button, e.g. to open the job the toast is about.
function toast(text, kind = "info", action = null) {
  const button = action && el("button", { type: "button", class: "link", onclick: () => { node.remove(); action.run(); } }, action.label);
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", {}, text), button);
  $("#toasts").append(node);
  setTimeout(() => node.remove(), kind === "error" || action ? 9000 : 3500);
}

async function reloadOptions() {
  options = await api("/api/v1/options");
}

function fillFilters() {
  const fill = (select, all, values, label) => {
    const current = select.value;
    select.replaceChildren(el("option", { value: "" }, t(all)), ...values.map((v) => el("option", { value: v }, label(v))));
    select.value = current;
  };
  fill($("#filter-state"), "allStates", options.lifecycle.states, (v) => t(v));
  fill($("#filter-language"), "allLanguages", options.languages, (v) => v);
  fill($("#filter-story"), "allStories", options.story_types, (v) => t(v));
}

// What the page wrote in the language it had: who is logged in, the connection's state.
function relabelStatus() {
  const { name, role, project } = document.body.dataset;
  if (name) $("#whoami").textContent = `${name} · ${project === "*" ? t("everyProject") : project} · ${t("role_" + role)}`;
  const connection = $("#connection");
  if (connection.textContent) connection.textContent = t(connection.classList.contains("live") ? "connected" : "reconnecting");
}

function applyLanguage(code, board) {
  setLang(code);
  translatePage();
  relabelStatus();
  fillFilters();
  for (const button of document.querySelectorAll("[data-ui-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.uiLang === lang()));
  }
  board.relabel();
}

function connect(board, drawer, notices) {
  const source = new EventSource("/api/v1/board/stream");
  source.addEventListener("board", (event) => {
    const data = JSON.parse(event.data);
    board.replaceAll(Object.values(data.columns).flat());
    $("#auto-video-global").checked = data.auto_video;
  });
  source.addEventListener("card", (event) => {
    const card = JSON.parse(event.data);
    const before = board.cards.get(card.id);
    board.upsert(card);
    notices.seen(before, card);
    drawer.onCard(card);
  });
  source.addEventListener("open", () => { $("#connection").textContent = t("connected"); $("#connection").className = "connection live"; });
  source.addEventListener("error", () => { $("#connection").textContent = t("reconnecting"); $("#connection").className = "connection"; });
  return source;
}

async function showUnreadable() {
  const found = await api("/api/v1/admin/unreadable-events?limit=1");
  if (!found.total) return;
  const [newest] = found.items;
  $("#unreadable").textContent = t("unreadableEvents", { n: found.total, seq: newest.seq, reason: newest.reason });
  $("#unreadable").hidden = false;
}

async function main() {
  setLang(lang());
  translatePage();
  const me = await api("/api/v1/session"); // not logged in: api() goes to /login
  Object.assign(document.body.dataset, { role: me.role, project: me.project, name: me.name }); // hide what it cannot do
  relabelStatus();
  $("#log-out").addEventListener("click", async () => { await api("/api/v1/session", { method: "DELETE" }); toLogin(); });
  await reloadOptions();
  if (me.role === "admin" && me.project === "*") showUnreadable(); // not awaited: the board comes first
  const drawer = new Drawer($("#drawer"), { toast, options: () => options });
  const board = new Board($("#board"), { lifecycle: options.lifecycle, onOpen: (id) => drawer.open(id), announce, toast });
  const form = new NewVideo($("#new-dialog"), { options: () => options, reloadOptions, toast });
  window.vfo = { board, drawer }; // for tests and the latency benchmark

  fillFilters();
  applyLanguage(lang(), board);
  $("#filter-text").addEventListener("input", (e) => { board.filters.text = e.target.value; board.applyFilters(); });
  $("#filter-state").addEventListener("change", (e) => { board.filters.state = e.target.value; board.applyFilters(); });
  $("#filter-language").addEventListener("change", (e) => { board.filters.language = e.target.value; board.applyFilters(); });
  $("#filter-story").addEventListener("change", (e) => { board.filters.story = e.target.value; board.applyFilters(); });
  $("#filter-review").addEventListener("change", (e) => { board.filters.review = e.target.checked; board.applyFilters(); });
  for (const button of document.querySelectorAll("[data-ui-lang]")) {
    button.addEventListener("click", () => applyLanguage(button.dataset.uiLang, board));
  }
  $("#new-video").addEventListener("click", async () => { await reloadOptions(); form.open(); });
  $("#auto-video-global").addEventListener("change", async (e) => {
    await api("/api/v1/settings/auto-video", { method: "PUT", json: { enabled: e.target.checked } });
    options.auto_video = e.target.checked;
  });
  $("#retry-failed").addEventListener("click", async () => {
    const result = await api("/api/v1/jobs/retry-failed", { method: "POST" });
    toast(t("retriedN", { n: result.count }));
  });
  $("#import-file").addEventListener("change", async (e) => {
    const form = new FormData();
    form.append("file", e.target.files[0]);
    e.target.value = "";
    try {
      const result = await api("/api/v1/jobs/batch", { method: "POST", form });
      toast(t("imported", { n: result.count }));
    } catch (error) {
      const rows = (error.errors || []).slice(0, 6).map((p) => `${p.field}: ${p.message}`).join("\n");
      toast(`${error.message}${rows ? "\n" + rows : ""}`, "error");
    }
  });
  const notices = new JobNotices({
    toast, paused: () => options.lifecycle.paused_states, current: (id) => board.cards.get(id), onOpen: (id) => drawer.open(id),
  });
  connect(board, drawer, notices);
}

main();
