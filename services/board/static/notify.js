// Toasts for what happens to jobs, whoever made it happen (this page, another browser, the API, a
// worker): a video finished, a job failed and why, a job waiting for review. They come from the live
// card feed, so a job finished by another client shows here too.
import { t } from "./i18n.js";

// A pause that Auto video moves past at once is not waiting for anyone: toast it only if it holds.
const SETTLE_MS = 1500;

export class JobNotices {
  constructor({ toast, paused, current, onOpen }) {
    this.toast = toast;
    this.paused = paused; // () => the lifecycle's paused states
    this.current = current; // (id) => the card as the board has it now
    this.onOpen = onOpen;
  }

  // `before` is the card as it was on screen, `card` as it is now.
  seen(before, card) {
    if (!before || before.state === card.state) return;
    const open = { label: t("open"), run: () => this.onOpen(card.id) };
    if (card.state === "DONE") {
      this.toast(t("toastDone", { title: card.title }), "ok", open);
    } else if (card.state === "FAILED") {
      const step = card.failed_step ? t(card.failed_step) : "";
      this.toast(t("toastFailed", { title: card.title, step, reason: card.last_error || "" }), "error", open);
    } else if (this.paused().includes(card.state)) {
      setTimeout(() => {
        const now = this.current(card.id);
        if (now && now.state === card.state) {
          this.toast(t("toastReview", { title: card.title, state: t(card.state) }), "review", open);
        }
      }, SETTLE_MS);
    }
  }
}
