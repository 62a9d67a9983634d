// A form generated from a kind's JSON schema (the registry's pydantic model, GET
// /api/v1/registry/schemas/{kind}). It edits a copy of the item's data: a field the person leaves
// empty is left out (its default applies), and what the schema cannot say as one input (a map, a
// list of objects) is a small JSON box of its own. Errors from the server go next to the field
// their path names ("steps.0.prompts" -> the steps box).
import { t } from "/static/i18n.js";

const MANAGED = new Set(["version", "active"]); // the registry sets these; the toolbar shows them
const LONG_TEXT = /prompt|template|content|message|description|instruction|text/;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
  return node;
}

// A property's schema with $ref followed and `X | None` (anyOf with null) made a nullable X.
function resolve(root, schema) {
  let s = schema || {};
  if (s.$ref) s = { ...root.$defs[s.$ref.split("/").pop()], ...withoutRef(s) };
  if (s.allOf && s.allOf.length === 1) s = { ...resolve(root, s.allOf[0]), ...withoutKey(s, "allOf") };
  if (s.anyOf) {
    const others = s.anyOf.filter((option) => option.type !== "null");
    if (others.length === 1) return { ...resolve(root, others[0]), ...withoutKey(s, "anyOf"), nullable: others.length < s.anyOf.length };
  }
  return s;
}
const withoutRef = (s) => withoutKey(s, "$ref");
function withoutKey(s, key) { const { [key]: _, ...rest } = s; return rest; }

function isScalar(s) {
  return ["string", "integer", "number", "boolean"].includes(s.type) || Array.isArray(s.enum);
}

function setAt(target, path, value) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] == null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  const last = path[path.length - 1];
  if (value === undefined) delete node[last]; else node[last] = value;
}

function getAt(source, path) {
  return path.reduce((node, key) => (node == null ? undefined : node[key]), source);
}

export class SchemaForm {
  // `locked`: fields shown but not editable (an existing item's slug); `onChange(data)` after each edit
  constructor(schema, data, { onChange, locked = [], readOnly = false }) {
    this.root = schema;
    this.data = structuredClone(data || {});
    this.onChange = onChange;
    this.locked = new Set(locked);
    this.readOnly = readOnly;
    this.node = el("div", { class: "schema-form", id: "schema-form" }, this.object(schema, []));
  }

  value() { return structuredClone(this.data); }

  changed(path, value) {
    setAt(this.data, path, value);
    this.onChange(this.value());
  }

  object(schema, path) {
    const required = new Set(schema.required || []);
    return Object.entries(schema.properties || {})
      .filter(([key]) => !(path.length === 0 && MANAGED.has(key)))
      .map(([key, property]) => this.field([...path, key], resolve(this.root, property), required.has(key)));
  }

  field(path, s, required) {
    const name = path.join(".");
    const label = el("label", { for: `sf-${name}` }, this.label(path, s), required ? " *" : "");
    const hint = s.description ? el("p", { class: "hint" }, s.description) : null;
    const error = el("p", { class: "error", "data-error-for": name, id: `sf-${name}-error` });
    let input;
    if (s.type === "object" && s.properties) {
      return el("fieldset", { class: "sf-group", "data-field": name }, el("legend", {}, this.label(path, s)), hint,
        this.object(s, path), error);
    }
    const current = getAt(this.data, path);
    if (Array.isArray(s.enum)) input = this.choice(path, s, current, required);
    else if (s.type === "boolean") input = this.checkbox(path, s, current);
    else if (s.type === "integer" || s.type === "number") input = this.number(path, s, current);
    else if (s.type === "string") input = this.text(path, s, current);
    else if (s.type === "array" && s.items && isScalar(resolve(this.root, s.items))) input = this.list(path, s, current);
    else input = this.json(path, s, current, error);
    input.id = `sf-${name}`;
    input.setAttribute("aria-describedby", error.id);
    if (this.readOnly || this.locked.has(name)) input.disabled = true;
    return el("div", { class: "field", "data-field": name }, label, input, hint, error);
  }

  label(path, s) { // the field's name in the reader's language, else its schema title
    const key = `field_${path[path.length - 1]}`;
    const said = t(key);
    return said !== key ? said : s.title || path.join(".");
  }

  choice(path, s, current, required) {
    const options = s.enum.map((v) => el("option", { value: String(v), selected: v === (current ?? s.default) }, String(v)));
    const blank = !required || s.nullable ? el("option", { value: "", selected: current == null && s.default == null }, s.nullable ? t("sfNone") : t("sfDefault")) : null;
    return el("select", { onchange: (e) => this.changed(path, e.target.value === "" ? (s.nullable && current !== undefined ? null : undefined) : s.enum.find((v) => String(v) === e.target.value)) }, blank, options);
  }

  checkbox(path, s, current) {
    return el("input", { type: "checkbox", checked: Boolean(current ?? s.default), onchange: (e) => this.changed(path, e.target.checked) });
  }

  number(path, s, current) {
    return el("input", {
      type: "number", step: s.type === "integer" ? "1" : "any",
      min: s.minimum ?? s.exclusiveMinimum, max: s.maximum ?? s.exclusiveMaximum,
      value: current ?? "", placeholder: s.default != null ? String(s.default) : null,
      oninput: (e) => this.changed(path, e.target.value === "" ? undefined : Number(e.target.value)),
    });
  }

  text(path, s, current) {
    const long = LONG_TEXT.test(path[path.length - 1]) || (s.maxLength ?? 0) > 300 || String(current ?? "").includes("\n");
    const attrs = {
      maxlength: s.maxLength, placeholder: s.default != null ? String(s.default) : null, spellcheck: long ? "true" : "false",
      oninput: (e) => this.changed(path, e.target.value === "" ? (s.nullable && current !== undefined ? null : undefined) : e.target.value),
    };
    return long ? el("textarea", { ...attrs, rows: 4 }, current ?? "") : el("input", { ...attrs, value: current ?? "" });
  }

  list(path, s, current) { // a list of words or names: one a line
    const item = resolve(this.root, s.items);
    return el("textarea", {
      rows: 3, placeholder: t("sfOnePerLine"),
      oninput: (e) => {
        const lines = e.target.value.split("\n").map((line) => line.trim()).filter(Boolean);
        this.changed(path, lines.length || current !== undefined ? lines.map((v) => (item.type === "integer" || item.type === "number" ? Number(v) : v)) : undefined);
      },
    }, (current || []).join("\n"));
  }

  json(path, s, current, error) { // a map or a list of objects: JSON of its own
    return el("textarea", {
      rows: 4, class: "sf-json", spellcheck: "false",
      oninput: (e) => {
        if (!e.target.value.trim()) { this.changed(path, undefined); return; }
        try {
          this.changed(path, JSON.parse(e.target.value));
          error.textContent = "";
        } catch (err) {
          error.textContent = t("sfNotJson", { reason: err.message });
        }
      },
    }, current === undefined ? "" : JSON.stringify(current, null, 2));
  }

  // Server errors ({field, message}) next to the field their path names; what matches none is returned.
  showErrors(errors) {
    for (const slot of this.node.querySelectorAll("[data-error-for]")) slot.textContent = "";
    for (const input of this.node.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const unplaced = [];
    for (const error of errors) {
      const parts = String(error.field || "").split(".");
      let slot = null;
      while (parts.length && !slot) {
        slot = this.node.querySelector(`[data-error-for="${CSS.escape(parts.join("."))}"]`);
        if (!slot) parts.pop();
      }
      if (!slot) { unplaced.push(error); continue; }
      const deeper = error.field !== parts.join(".") ? `${error.field.slice(parts.join(".").length + 1)}: ` : "";
      slot.textContent = [slot.textContent, `${deeper}${error.message}`].filter(Boolean).join("; ");
      const input = slot.parentElement.querySelector("input, select, textarea");
      if (input) input.setAttribute("aria-invalid", "true");
    }
    return unplaced;
  }
}
