// Small DOM and formatting helpers shared by the console's views. Text always goes in as
// text (never as HTML), so file names, tags and error messages cannot inject markup.

/** h("a", {href: "#/x", class: "y", onclick: f}, "text", child, [more]) -> an element. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "href" || name === "src" || name === "poster") {
      if (safeUrl(value)) element.setAttribute(name, value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Only http(s), same-document and same-origin links: never javascript: or data: URLs. */
export function safeUrl(value) {
  const text = String(value);
  return text.startsWith("#") || text.startsWith("/") || /^https?:\/\//i.test(text);
}

/** Replace an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A label + control pair: field("Name", input) (the input needs an id). */
export function field(label, control, help) {
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
           help ? h("small", { id: helpId }, help) : null);
}

export function bytes(value) {
  const n = Number(value) || 0;
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let unit = 0;
  let scaled = n;
  while (scaled >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? scaled : scaled.toFixed(scaled < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Seconds as h:mm:ss or m:ss. */
export function duration(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

/** An ISO time in the reader's local time. */
export function when(iso) {
  if (!iso || iso === -1) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export const STATUS = {
  "-1": "Not yet stored", 2: "Normal", 4: "Processing", 7: "Processing failed",
};

export function statusText(file) {
  return STATUS[file.status] || `Status ${file.status}`;
}

export const DEFINITIONS = {
  0: "Original", 1: "Watermarked original", 10: "360p MP4", 20: "720p MP4", 30: "1080p MP4",
  210: "360p HLS", 220: "720p HLS", 230: "1080p HLS",
};

/** "a, b ,c" -> ["a", "b", "c"] */
export function splitList(text) {
  return String(text || "").split(",").map((part) => part.trim()).filter(Boolean);
}

/** The category tree flattened in display order: [{class_id, name, depth, path}]. */
export function flattenClasses(classSet, depth = 0, parents = []) {
  const rows = [];
  for (const node of classSet || []) {
    const path = [...parents, node.name];
    rows.push({ ...node, depth, path: path.join(" / ") });
    rows.push(...flattenClasses(node.children, depth + 1, path));
  }
  return rows;
}

/** <option>s for a category <select>; `extra` options come first. */
export function classOptions(flat, selected, extra = []) {
  const options = extra.map(([value, label]) => h("option", { value }, label));
  for (const node of flat) {
    options.push(h("option", { value: node.class_id }, `${"\u2003".repeat(node.depth)}${node.name}`));
  }
  for (const option of options) option.selected = String(option.value) === String(selected);
  return options;
}

/** Ask before something that cannot be undone. Resolves to the form data, or null. */
export function confirmAction({ title, text, action = "Delete", extra = null }) {
  const dialog = document.getElementById("confirm");
  fill(document.getElementById("confirm-title"), title);
  fill(document.getElementById("confirm-text"), text);
  fill(document.getElementById("confirm-extra"), extra);
  fill(document.getElementById("confirm-ok"), action);
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? new FormData(dialog.querySelector("form")) : null);
    }, { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}
