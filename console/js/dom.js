// Small DOM helpers. Text always goes in as text (never parsed as HTML), so nothing the API
// returns can inject markup.

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let fieldCount = 0;

// A labelled input: the label names it for assistive technology and for the tests alike.
export function field(label, input, hint) {
  fieldCount += 1;
  input.id = input.id || `field-${fieldCount}`;
  const parts = [h("label", { for: input.id, text: label }), input];
  if (hint) {
    const hintId = `${input.id}-hint`;
    input.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint", text: hint }));
  }
  return h("div", { class: input.type === "checkbox" ? "field check" : "field" }, parts);
}

export function checkbox(label, checked = false, hint) {
  return field(label, h("input", { type: "checkbox", checked }), hint);
}

export function select(options, value) {
  return h(
    "select",
    {},
    options.map(([optionValue, text]) =>
      h("option", { value: optionValue, selected: optionValue === value, text }),
    ),
  );
}

// Replaces a region's content only when its data changed, and gives the focus back to the
// control that had it (matched by data-key), so a live refresh never steals the keyboard.
export function renderRegion(region, data, build) {
  const serialized = JSON.stringify(data);
  if (region.dataset.rendered === serialized) return;
  const focusedKey = region.contains(document.activeElement)
    ? document.activeElement.dataset.key
    : undefined;
  const nodes = [build(data)].flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false);
  region.replaceChildren(...nodes);
  region.dataset.rendered = serialized;
  if (focusedKey) region.querySelector(`[data-key="${CSS.escape(focusedKey)}"]`)?.focus();
}

export function time(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, text: iso.replace("T", " ").replace(/\.\d+Z$/, " UTC") });
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  const seconds = Math.max(0, Math.round(ms / 1000));
  const parts = [];
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours) parts.push(`${hours} h`);
  if (minutes || hours) parts.push(`${minutes} min`);
  parts.push(`${seconds % 60} s`);
  return parts.join(" ");
}

export function button(text, onclick, props = {}) {
  return h("button", { type: "button", text, onclick, ...props });
}

// A group of controls under a legend: fieldset and legend name it for assistive technology.
export function group(legend, ...children) {
  return h("fieldset", {}, h("legend", { text: legend }), ...children);
}

export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${String(kind).toLowerCase()}`, text });
}
