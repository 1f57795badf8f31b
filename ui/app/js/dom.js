// @ts-check
// Small DOM helpers shared by the modules. Everything user- or engine-provided goes in as
// text (textContent), never as HTML; the only markup we accept is the backend's SVG charts,
// and those go through a DOMParser and a sanitiser (insertSvg).

/**
 * The element with this id, of the given element type (HTMLElement if none is named); a
 * missing or different one is a bug in index.html, so fail loudly.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new () => T} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`index.html has no #${id}`);
  if (type && !(found instanceof type)) throw new Error(`index.html's #${id} is not a ${type.name}`);
  return /** @type {T} */ (found);
}

/**
 * @typedef {object} ElProps
 * @property {string} [class]
 * @property {string} [text]
 * @property {Record<string, string>} [attrs]
 */

/**
 * Creates an element with a class, text and attributes; children are nodes or text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElProps} [props]
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/**
 * Shows a failure (the default) or a confirmation in words in `target`, or hides it with
 * null. `data-kind` lets the stylesheet colour it.
 * @param {HTMLElement} target
 * @param {string | null} message
 * @param {"error" | "info"} [kind]
 * @returns {void}
 */
export function showMessage(target, message, kind = "error") {
  target.textContent = message ?? "";
  target.dataset.kind = kind;
  target.hidden = message === null || message === "";
}

/**
 * A rejected invoke gives a string, a WebSocket failure an Error; both become words.
 * @param {unknown} e
 * @returns {string}
 */
export function describeError(e) {
  if (typeof e === "string") return e;
  if (e instanceof Error) return e.message;
  if (e && typeof e === "object" && "message" in e) return String(e.message);
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/**
 * 1.2 GiB / 640 MiB, as the models list shows sizes.
 * @param {number} n
 * @returns {string}
 */
export function formatBytes(n) {
  const MiB = 1024 * 1024;
  const GiB = 1024 * MiB;
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= 10 * MiB) return `${Math.round(n / MiB)} MiB`;
  return `${(n / MiB).toFixed(1)} MiB`;
}

/**
 * A figure with one decimal, or a dash when unknown.
 * @param {number | null | undefined} n
 * @param {number} [digits]
 * @returns {string}
 */
export function formatNumber(n, digits = 1) {
  return n === null || n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(digits);
}

// Elements and attributes an SVG chart never needs and that could run code or load
// something: dropped before the chart enters the page (the CSP blocks them too).
const SVG_DROP = new Set(["script", "foreignobject", "iframe", "object", "embed"]);

/**
 * @param {Element} node
 * @returns {void}
 */
function sanitiseSvg(node) {
  for (const child of Array.from(node.children)) {
    if (SVG_DROP.has(child.localName.toLowerCase())) child.remove();
    else sanitiseSvg(child);
  }
  for (const attr of Array.from(node.attributes)) {
    const name = attr.name.toLowerCase();
    const value = attr.value.trim().toLowerCase();
    const isLink = name === "href" || name.endsWith(":href") || name === "src";
    if (name.startsWith("on") || (isLink && !value.startsWith("#") && !value.startsWith("data:image/"))) {
      node.removeAttribute(attr.name);
    }
  }
}

/**
 * Replaces `container`'s content with the SVG document `svg` (plotters' output). Parsed as
 * XML, not via innerHTML, so it is never treated as HTML. Returns false (and leaves a note)
 * when the text is not a usable SVG.
 * @param {Element} container
 * @param {string} svg
 * @returns {boolean}
 */
export function insertSvg(container, svg) {
  if (!svg.trim()) {
    container.replaceChildren();
    return false;
  }
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  const root = doc.documentElement;
  if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length > 0) {
    console.error("voxdeck: a chart is not valid SVG");
    container.replaceChildren(el("p", { class: "error-text", text: "This chart could not be drawn (invalid SVG)." }));
    return false;
  }
  sanitiseSvg(root);
  const node = document.importNode(root, true);
  // Scale with the container: the intrinsic size stays as the viewBox when there is none.
  if (!node.hasAttribute("viewBox")) {
    const w = parseFloat(node.getAttribute("width") ?? "");
    const h = parseFloat(node.getAttribute("height") ?? "");
    if (w > 0 && h > 0) node.setAttribute("viewBox", `0 0 ${w} ${h}`);
  }
  node.setAttribute("role", "img");
  container.replaceChildren(node);
  return true;
}
