// @ts-check
// A turn's tool calls as compact chips: the tool, its arguments in words ("set_timer 10 min ·
// tea" rather than JSON), what it gave, who called it (fast path, local, cloud) and how long it
// ran. A refused call is marked as such. All text goes in via textContent.

import { el } from "./dom.js";

/** @typedef {import("../../bindings/ToolCallRecord").ToolCallRecord} ToolCallRecord */

/** Who made a call, as the chip says it. */
const SOURCES = /** @type {Record<string, string>} */ ({ fast_path: "fast path", local: "local", cloud: "cloud" });

/**
 * 600 → "10 min", 5400 → "1 h 30 min", 45 → "45 s".
 * @param {number} s
 * @returns {string}
 */
export function duration(s) {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  /** @type {string[]} */
  const parts = [];
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (sec || parts.length === 0) parts.push(`${sec} s`);
  return parts.join(" ");
}

/**
 * A JSON value as a short piece of text: strings quoted only when they are sentences.
 * @param {unknown} v
 * @returns {string}
 */
function plain(v) {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? "";
}

/**
 * The arguments in words for the tools we know, `key value` pairs otherwise; the raw text
 * (shortened) when it is not a JSON object.
 * @param {string} name
 * @param {string} argumentsText
 * @returns {string}
 */
export function describeArguments(name, argumentsText) {
  /** @type {unknown} */
  let parsed;
  try {
    parsed = argumentsText.trim() ? JSON.parse(argumentsText) : {};
  } catch {
    return shorten(argumentsText);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return shorten(argumentsText);
  const args = /** @type {Record<string, unknown>} */ (parsed);
  /** @type {string[]} */
  const parts = [];
  switch (name) {
    case "set_timer":
      if (typeof args.seconds === "number") parts.push(duration(args.seconds));
      if (typeof args.at === "string") parts.push(`at ${args.at}`);
      if (typeof args.label === "string" && args.label) parts.push(args.label);
      break;
    case "cancel_timer":
      if (args.label === "") parts.push("the only one");
      else if (args.label !== undefined) parts.push(plain(args.label));
      break;
    case "remember":
      if (args.fact !== undefined) parts.push(`“${plain(args.fact)}”`);
      break;
    case "recall":
    case "forget":
      if (args.about !== undefined) parts.push(`about ${plain(args.about)}`);
      break;
    default:
      for (const [key, value] of Object.entries(args)) {
        // One argument that names what it asks ("what": "time") reads best alone.
        parts.push(Object.keys(args).length === 1 && key !== "label" ? plain(value) : `${key} ${plain(value)}`);
      }
  }
  // Anything the tool does not take (a refused call) is shown too, so nothing is hidden.
  if (["set_timer", "cancel_timer", "remember", "recall", "forget"].includes(name)) {
    const known = new Set(["seconds", "at", "label", "fact", "about"]);
    for (const [key, value] of Object.entries(args)) if (!known.has(key)) parts.push(`${key} ${plain(value)}`);
  }
  return shorten(parts.join(" · "));
}

/**
 * @param {string} text
 * @param {number} [max]
 * @returns {string}
 */
function shorten(text, max = 120) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * 0.4 → "0.4 ms", 12.3 → "12 ms", 1520 → "1.52 s".
 * @param {number} ms
 * @returns {string}
 */
export function runTime(ms) {
  if (!Number.isFinite(ms)) return "";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * One call's chip.
 * @param {ToolCallRecord} call
 * @returns {HTMLElement}
 */
export function toolChip(call) {
  const args = describeArguments(call.name, call.arguments);
  const source = SOURCES[call.source] ?? call.source;
  const said = call.spoken || call.result;
  const time = runTime(call.run_ms);
  const words = [
    call.ok ? "Tool call" : "Refused tool call",
    call.name,
    args,
    said && `: ${said}`,
    source && `, by ${source}`,
    time && `, ${time}`,
  ];
  const chip = el(
    "li",
    {
      class: "tool-call",
      attrs: {
        "data-tool": call.name,
        "data-ok": String(call.ok),
        "data-source": call.source,
        "aria-label": words.filter((w) => !!w).join(" "),
        title: `arguments: ${call.arguments || "{}"}\nresult: ${call.result}`,
      },
    },
    el("span", { class: "tool-name", text: call.name }),
  );
  if (args) chip.append(el("span", { class: "tool-args", text: args }));
  if (!call.ok) chip.append(el("span", { class: "tool-refused", text: "refused" }));
  if (said) chip.append(el("span", { class: "tool-result", text: said }));
  const meta = [source, time].filter((w) => !!w).join(" · ");
  if (meta) chip.append(el("span", { class: "tool-meta", text: meta, attrs: { "data-run-ms": String(call.run_ms) } }));
  return chip;
}
