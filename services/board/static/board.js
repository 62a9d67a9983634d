// The board: five columns of cards, filters, and drag and drop by mouse and by keyboard.
import { api, ApiError, el } from "./api.js";
import { duration, errorText, t } from "./i18n.js";

export class Board {
  constructor(root, { lifecycle, onOpen, announce, toast }) {
    this.root = root;
    this.columns = lifecycle.columns;
    this.running = lifecycle.running_states;
    this.cards = new Map();
    this.filters = { text: "", state: "", language: "", story: "", review: false };
    this.onOpen = onOpen;
    this.announce = announce;
    this.toast = toast;
    this.picking = null;
    this.updates = []; // when each card last changed on screen (read by the latency benchmark)
    this.build();
  }

  build() {
    this.root.replaceChildren();
    this.lists = {};
    this.counts = {};
    for (const column of this.columns) {
      const list = el("div", { class: "cards", dataset: { column } });
      const count = el("span", { class: "count" }, "0");
      const section = el(
        "section",
        { class: "column", dataset: { column }, "aria-label": t(column) },
        el("h2", {}, el("span", { class: "column-name" }, t(column)), count),
        list,
      );
      section.addEventListener("dragover", (e) => { e.preventDefault(); section.classList.add("drop-target"); });
      section.addEventListener("dragleave", () => section.classList.remove("drop-target"));
      section.addEventListener("drop", (e) => {
        e.preventDefault();
        section.classList.remove("drop-target");
        const id = e.dataTransfer.getData("text/plain");
        if (id) this.move(id, column);
      });
      this.lists[column] = list;
      this.counts[column] = count;
      this.root.append(section);
    }
  }

  relabel() {
    for (const section of this.root.querySelectorAll(".column")) {
      section.querySelector(".column-name").textContent = t(section.dataset.column);
      section.setAttribute("aria-label", t(section.dataset.column));
    }
    this.replaceAll([...this.cards.values()]);
  }

  replaceAll(cards) {
    this.cards = new Map(cards.map((card) => [card.id, card]));
    for (const list of Object.values(this.lists)) list.replaceChildren();
    for (const card of [...this.cards.values()].sort(newestFirst)) this.place(card);
    this.refreshCounts();
  }

  upsert(card) {
    this.cards.set(card.id, card);
    this.place(card);
    this.refreshCounts();
    this.updates.push({ id: card.id, state: card.state, at: Date.now() });
    if (this.updates.length > 5000) this.updates.splice(0, 1000);
  }

  visible(card) {
    const f = this.filters;
    return (!f.text || card.title.toLowerCase().includes(f.text.toLowerCase()))
      && (!f.state || card.state === f.state)
      && (!f.language || card.language === f.language)
      && (!f.story || card.story_type === f.story)
      && (!f.review || card.waiting_review);
  }

  place(card) {
    const old = this.root.querySelector(`.card[data-id="${card.id}"]`);
    const hadFocus = old && old === document.activeElement;
    const node = this.render(card);
    const list = this.lists[card.column];
    if (old && old.parentElement === list) {
      // same column: update the card in place, so a drag or a focus that holds it is not broken
      old.className = node.className;
      old.dataset.state = node.dataset.state;
      old.setAttribute("aria-label", node.getAttribute("aria-label"));
      old.replaceChildren(...node.childNodes);
      old.hidden = !this.visible(card);
      return;
    }
    // keep a stable order (newest created first) so progress updates never reshuffle a column
    const after = [...list.children].find((other) => other !== old && this.cards.get(other.dataset.id)
      && newestFirst(card, this.cards.get(other.dataset.id)) < 0);
    if (old) old.remove();
    list.insertBefore(node, after || null);
    node.hidden = !this.visible(card);
    if (hadFocus) node.focus();
  }

  refreshCounts() {
    for (const column of this.columns) {
      const shown = [...this.lists[column].children].filter((node) => !node.hidden).length;
      this.counts[column].textContent = String(shown);
    }
  }

  applyFilters() {
    for (const node of this.root.querySelectorAll(".card")) node.hidden = !this.visible(this.cards.get(node.dataset.id));
    this.refreshCounts();
  }

  render(card) {
    const running = this.running.includes(card.state);
    const badge = card.state === "FAILED" || card.state === "CANCELLED" ? "badge alert" : running ? "badge live" : "badge";
    const node = el(
      "article",
      {
        class: `card state-${card.state.toLowerCase()}`,
        draggable: "true",
        tabindex: "0",
        dataset: { id: card.id, state: card.state },
        "aria-roledescription": t("draggableCard"),
        "aria-label": `${card.title}, ${t(card.state)}`,
      },
      el("div", { class: "card-top" },
        el("span", { class: badge }, t(card.state)),
        card.retry_count ? el("span", { class: "retries" }, t("retries", { n: card.retry_count })) : null,
        card.auto_video ? el("span", { class: "auto", title: t("autoVideo") }, "⚡") : null),
      el("h3", { class: "card-title" }, card.title),
      el("div", { class: "card-meta" }, `${card.language} · ${t(card.story_type)}`),
      running ? el("div", { class: "progress", role: "progressbar", "aria-valuenow": card.progress, "aria-valuemin": 0, "aria-valuemax": 100 },
        el("span", { style: `width:${card.progress}%` })) : null,
      running ? el("div", { class: "eta" }, `${Math.round(card.progress)}%${card.eta_s != null ? " · " + t("eta", { time: duration(card.eta_s) }) : ""}`) : null,
      card.state === "FAILED" && card.last_error ? el("div", { class: "card-error", title: card.last_error }, card.last_error) : null,
      card.waiting_review ? el("div", { class: "card-review" }, t("waitingReview")) : null,
    );
    node.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", card.id); e.dataTransfer.effectAllowed = "move"; });
    node.addEventListener("click", () => this.onOpen(card.id));
    node.addEventListener("keydown", (e) => this.keyboard(e, this.cards.get(card.id) || card)); // the latest card
    return node;
  }

  keyboard(event, card) {
    const key = event.key;
    if (!this.picking) {
      if (key === "Enter") { event.preventDefault(); this.onOpen(card.id); }
      if (key === " ") {
        event.preventDefault();
        this.picking = { id: card.id, target: this.columns.indexOf(card.column) };
        this.highlight();
        this.announce(t("pickedUp", { title: card.title }));
      }
      return;
    }
    if (key === "ArrowRight" || key === "ArrowLeft") {
      event.preventDefault();
      const step = key === "ArrowRight" ? 1 : -1;
      this.picking.target = Math.min(this.columns.length - 1, Math.max(0, this.picking.target + step));
      this.highlight();
      this.announce(t("dropTarget", { column: t(this.columns[this.picking.target]) }));
    } else if (key === " " || key === "Enter") {
      event.preventDefault();
      const { id, target } = this.picking;
      this.stopPicking();
      this.move(id, this.columns[target]);
    } else if (key === "Escape") {
      event.preventDefault();
      this.stopPicking();
      this.announce(t("dropCancelled"));
    }
  }

  highlight() {
    for (const section of this.root.querySelectorAll(".column")) {
      section.classList.toggle("drop-target", this.picking && section.dataset.column === this.columns[this.picking.target]);
    }
  }

  stopPicking() {
    this.picking = null;
    this.highlight();
  }

  async move(id, column) {
    const card = this.cards.get(id);
    if (!card || card.column === column) return;
    try {
      await api(`/api/v1/jobs/${id}/move`, { method: "POST", json: { column } });
      this.announce(t("moved", { title: card.title, column: t(column) }));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const message = t("refused", { message: errorText(error) });
      this.toast(message, "error");
      this.announce(message);
    }
  }
}

function newestFirst(a, b) {
  return a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id.localeCompare(b.id);
}
