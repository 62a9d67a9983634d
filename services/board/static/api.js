// Calls to the board API. Errors carry the API's {code, message, field, errors}.
export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.code;
    this.field = body.field;
    this.errors = body.errors || [];
    this.reason = body.reason; // a refusal's code (shared/said.py), which the board translates
    this.params = body.params || {};
  }
}

// The CSRF token of this browser's session (the server set it as a readable cookie at login).
export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)vfo_csrf=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

export async function api(path, { method = "GET", json, form } = {}) {
  const init = { method, headers: {} };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken();
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  const response = await fetch(path, init);
  if (response.status === 401) toLogin();
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function artifactJson(job, name) {
  const artifact = job.artifacts.find((a) => a.name === name);
  if (!artifact) return null;
  const response = await fetch(artifact.url);
  return response.ok ? response.json() : null;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// An uploaded clip, playing silently in a picture's place (form previews, the drawer's gallery).
export function clipPlayer(src, attrs = {}) {
  return el("video", { src, muted: true, loop: true, autoplay: true, playsinline: true, ...attrs });
}
