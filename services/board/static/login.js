// Log in with an API key (typed, or from the link `vfo up` prints: /login#key=...), then go back.
import { lang, setLang, t, translatePage } from "./i18n.js";

setLang(lang());
translatePage();
document.title = `${t("login_title")} · Video Factory`;
const hint = t("login_hint").split(/\{file\}|\{command\}/); // the sentence, with its two names set as code
if (hint.length === 3) {
  const code = (text) => Object.assign(document.createElement("code"), { textContent: text });
  document.querySelector("#login-hint").replaceChildren(hint[0], code("var/admin-key"), hint[1], code("vfo up"), hint[2]);
}
const form = document.querySelector("#login-form");
const input = document.querySelector("#login-key");
const error = document.querySelector("#login-error");

function destination() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // only a path of this site: never "//host" or "https://host" (no open redirect)
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function logIn(key) {
  error.textContent = "";
  const response = await fetch("/api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
  });
  if (response.ok) {
    location.replace(destination());
    return;
  }
  const body = await response.json().catch(() => ({}));
  error.textContent = body.message || `HTTP ${response.status}`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  logIn(input.value.trim());
});

const fromLink = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromLink) {
  history.replaceState(null, "", location.pathname + location.search); // keep the key out of history
  logIn(fromLink);
}
