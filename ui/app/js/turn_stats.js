// @ts-check
// A finished turn's figures: the one-line stats under the answer (tok/s, tokens, the LLM's
// time to first token, first audio, when the first sound was heard) and the per-stage breakdown it discloses, both from the
// TurnRecord. Times are in seconds with two decimals, the unit the charts use.

import { el, formatBytes } from "./dom.js";

/** @typedef {import("../../bindings/TurnRecord").TurnRecord} TurnRecord */

/**
 * 612.4 ms → "0.61 s"; a dash when unknown.
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function seconds(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const text = (ms / 1000).toFixed(2);
  return `${text === "-0.00" ? "0.00" : text} s`;
}

/**
 * @typedef {object} Stat
 * @property {string} key `data-stat`
 * @property {string} text as shown
 * @property {number} value the record's figure (tok/s, tokens, or ms)
 */

/**
 * The stats line's figures, those the record has.
 * @param {TurnRecord} r
 * @returns {Stat[]}
 */
export function statsOf(r) {
  /** @type {Stat[]} */
  const out = [];
  if (r.gen_tok_s !== null) out.push({ key: "tok_s", text: `${r.gen_tok_s.toFixed(1)} tok/s`, value: r.gen_tok_s });
  if (r.gen_tokens !== null) out.push({ key: "tokens", text: `${r.gen_tokens} tokens`, value: r.gen_tokens });
  if (r.ttft_ms !== null) out.push({ key: "ttft", text: `first token ${seconds(r.ttft_ms)}`, value: r.ttft_ms });
  if (r.first_audio_ms !== null) {
    out.push({ key: "first_audio", text: `first audio ${seconds(r.first_audio_ms)}`, value: r.first_audio_ms });
  }
  if (r.first_audible_ms !== null) {
    out.push({ key: "heard", text: `heard ${seconds(r.first_audible_ms)}`, value: r.first_audible_ms });
  }
  return out;
}

/**
 * @typedef {object} Stage
 * @property {string} name
 * @property {number} start ms from the release
 * @property {number} end ms from the release
 */

/**
 * The turn's stages on its timeline (as Home Assistant's pipeline debug view lists them): each
 * runs from the latest earlier milestone not after its own (a spoken fallback notice is the
 * first sentence before the first token). A milestone that did not happen is skipped.
 * @param {TurnRecord} r
 * @returns {Stage[]}
 */
export function stagesOf(r) {
  /** @type {[string, number | null][]} */
  const milestones = [
    ["listen", r.release_ms],
    ["transcribe", r.transcript_ms],
    // The first tool call's result ready (a timer set, a fact stored).
    ["tool", r.tool_ms],
    ["first token", r.first_token_ms],
    ["first sentence", r.first_sentence_ms],
    ["first audio", r.first_audio_ms],
    // The first sample above -40 dBFS reaching the listener: the wait the user feels.
    ["heard", r.first_audible_ms],
    ["done", r.interrupted_ms ?? r.last_audio_ms ?? r.last_token_ms],
  ];
  /** @type {Stage[]} */
  const out = [];
  /** @type {number[]} */
  const earlier = r.press_ms !== null ? [r.press_ms] : [];
  for (const [name, at] of milestones) {
    if (at === null) continue;
    const before = earlier.filter((t) => t <= at);
    const start = before.length > 0 ? Math.max(...before) : at;
    out.push({ name: r.interrupted_ms !== null && name === "done" ? "interrupted" : name, start, end: at });
    earlier.push(at);
  }
  return out;
}

/**
 * The disclosure's content: the stage table and the facts behind the turn.
 * @param {TurnRecord} r
 * @returns {HTMLElement}
 */
export function breakdown(r) {
  const stages = stagesOf(r);
  const first = Math.min(0, ...stages.map((s) => s.start));
  const last = Math.max(1, ...stages.map((s) => s.end));
  const span = last - first;
  const rows = stages.map((s) => {
    const bar = el("span", { class: "stage-bar" });
    // CSSOM, not a style attribute: the CSP allows it.
    bar.style.marginLeft = `${(((s.start - first) / span) * 100).toFixed(1)}%`;
    bar.style.width = `${Math.max(0.5, ((s.end - s.start) / span) * 100).toFixed(1)}%`;
    return el(
      "tr",
      { attrs: { "data-stage": s.name, "data-start-ms": s.start.toFixed(0), "data-duration-ms": (s.end - s.start).toFixed(0) } },
      el("th", { text: s.name, attrs: { scope: "row" } }),
      el("td", { class: "num", text: seconds(s.start) }),
      el("td", { class: "num", text: seconds(s.end - s.start) }),
      el("td", { class: "stage-track" }, bar),
    );
  });
  const table = el(
    "table",
    { class: "stages" },
    el("caption", { text: "Times from the release of the talk button" }),
    el(
      "thead",
      {},
      el("tr", {}, ...["stage", "starts", "takes", ""].map((h) => el("th", { text: h, attrs: { scope: "col" } }))),
    ),
    el("tbody", {}, ...rows),
  );
  return el("div", { class: "breakdown" }, table, facts(r));
}

/**
 * The facts beside the timeline: route, model, tokens, speech, GPU; those the record has.
 * @param {TurnRecord} r
 * @returns {HTMLElement}
 */
function facts(r) {
  /** @type {[string, string, string][]} key, label, value */
  const items = [];
  /**
   * @param {string} key
   * @param {string} label
   * @param {string | null | undefined | false} value
   */
  const add = (key, label, value) => {
    if (value) items.push([key, label, value]);
  };
  add("route", "route", r.route_reason);
  add("fallback", "fallback", r.fallback);
  add("model", "model", r.model && `${r.model}${r.engine ? ` (${r.engine})` : ""}`);
  if (r.prompt_tokens !== null) {
    const rate = r.prompt_tok_s ? ` at ${r.prompt_tok_s.toFixed(1)} tok/s` : "";
    add("prompt", "prompt", `${r.prompt_tokens} new tokens, ${r.cached_tokens ?? 0} cached${rate}`);
  }
  if (r.gen_tokens !== null) {
    const rate = r.gen_tok_s !== null ? ` at ${r.gen_tok_s.toFixed(1)} tok/s` : "";
    add("generated", "generated", `${r.gen_tokens} tokens${rate}`);
  }
  add("ttft", "LLM first token", r.ttft_ms !== null && seconds(r.ttft_ms));
  add("tools", "tools", r.tool_calls.map((c) => `${c.name}${c.ok ? "" : " (refused)"}`).join(", "));
  add("speech", "speech", r.utterance_s > 0 && `${r.utterance_s.toFixed(2)} s heard, transcribed in ${seconds(r.stt_ms)}`);
  if (r.sentences > 0) {
    const rtf = r.tts_rtf !== null ? `, real-time factor ${r.tts_rtf.toFixed(2)}` : "";
    const pieces = r.sentences === 1 ? "1 piece" : `${r.sentences} pieces`;
    add("tts", "voice", `${pieces} in ${seconds(r.tts_ms)}${rtf}${r.voice ? ` (${r.voice})` : ""}`);
  }
  const g = r.gpu;
  if (g.llm_total_layers !== null) add("gpu_layers", "LLM on GPU", `${g.llm_layers ?? 0} of ${g.llm_total_layers} layers`);
  add("stt_device", "STT on", g.stt_device);
  if (g.reading) {
    const s = g.reading;
    const parts = [s.name];
    if (s.process_memory_bytes !== null) parts.push(`voxdeck ${formatBytes(s.process_memory_bytes)}`);
    if (s.memory_used_bytes !== null && s.memory_total_bytes !== null) {
      parts.push(`${formatBytes(s.memory_used_bytes)} of ${formatBytes(s.memory_total_bytes)} used`);
    }
    if (s.utilization_pct !== null) parts.push(`${s.utilization_pct.toFixed(0)}% load`);
    if (s.clock_mhz !== null) parts.push(`${s.clock_mhz} MHz`);
    if (s.power_mode) parts.push(s.power_mode);
    add("gpu", "GPU", parts.join(", "));
  }
  return el(
    "dl",
    { class: "facts" },
    ...items.map(([key, label, value]) =>
      el("div", { class: "fact" }, el("dt", { text: label }), el("dd", { text: value, attrs: { "data-fact": key } })),
    ),
  );
}
