// @ts-check
// The Bench tab: starts and cancels the model benchmark, follows its `bench` events (progress
// per model and phase, the time left), shows the result as a table with verdicts in words, the
// recommendation and two SVG charts, and exports it. In the browser an export becomes a
// download; in the desktop app the backend has already written the file. Engine text goes in
// as text (DOM APIs, textContent), never as HTML.

import { byId, el, formatNumber, insertSvg, showMessage } from "./dom.js";
import { readNumber } from "./limits.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/BenchStatus").BenchStatus} BenchStatus */
/** @typedef {import("../../bindings/BenchTable").BenchTable} BenchTable */
/** @typedef {import("../../bindings/BenchRow").BenchRow} BenchRow */
/** @typedef {import("../../bindings/BenchCell").BenchCell} BenchCell */
/** @typedef {import("../../bindings/ExportFormat").ExportFormat} ExportFormat */
/** @typedef {import("../../bindings/Reply").Reply} Reply */
/** @typedef {import("./transport.js").Send} Send */
/** @typedef {Extract<Reply, { kind: "exported" }>} Exported */
/** @typedef {Extract<BenchStatus, { state: "running" }>} Running */

/** @type {ExportFormat[]} */
const FORMATS = ["markdown", "json", "png_tok_s", "png_response_time"];

/**
 * Offers an exported file as a browser download (base64 → bytes for the PNGs).
 * @param {Exported} file
 * @returns {void}
 */
function download(file) {
  /** @type {BlobPart} */
  let body = file.content;
  if (file.base64) {
    const binary = atob(file.content);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    body = bytes;
  }
  const url = URL.createObjectURL(new Blob([body], { type: file.mime }));
  const a = document.createElement("a");
  a.href = url;
  a.download = file.file_name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The click has started the download; free the blob once it has been read.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * "45 s", "2 min 05 s", "1 h 03 min".
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * The progress line: "Model 1 of 2, SmolLM2 135M: run 1 of 3: 23 of 50 tokens".
 * @param {Running} r
 * @returns {string}
 */
function progressText(r) {
  const model = r.model ? `Model ${r.model_index + 1} of ${r.models}, ${r.model}: ` : "";
  return `${model}${r.step}`;
}

/**
 * The time line: "about 1 min 20 s left (2 s so far)" or "estimating…".
 * @param {Running} r
 * @returns {string}
 */
function timeText(r) {
  const left = r.eta_s === null ? "estimating time left…" : `about ${formatDuration(r.eta_s)} left`;
  return `${left} (${formatDuration(r.elapsed_s)} so far)`;
}

/**
 * A table cell; `verdict` sets `data-verdict` (its colour) and `words` adds the verdict in
 * words beside the figure; `num` keeps a figure and its unit on one line, `wide` lets a longer
 * text wrap, but not into a narrow column.
 * @param {string} text
 * @param {{ verdict?: string | null, words?: string, header?: boolean, num?: boolean, wide?: boolean }} [opts]
 * @returns {HTMLTableCellElement}
 */
function cell(text, opts = {}) {
  const td = document.createElement(opts.header ? "th" : "td");
  if (opts.header) td.setAttribute("scope", "row");
  if (opts.num) td.className = "num";
  if (opts.wide) td.className = "wide";
  td.append(text);
  if (opts.verdict) td.dataset.verdict = opts.verdict;
  if (opts.words) td.append(" ", el("span", { class: "verdict", text: opts.words }));
  return td;
}

/**
 * Seconds as the table shows them: "1.8 s", "—".
 * @param {number | null} s
 * @param {number} [digits]
 * @returns {string}
 */
function secs(s, digits = 1) {
  return s === null ? "—" : `${formatNumber(s, digits)} s`;
}

/**
 * The result table: one row per model; response times with their verdicts, then the figures.
 * @param {BenchTable} table
 * @returns {HTMLTableElement}
 */
function resultTable(table) {
  /** @type {[string, string][]} heading, and what it means */
  const heads = [
    ["Model", ""],
    ["Verdict", `How an answer of ${table.verdict_tokens} tokens feels in conversation`],
    ...table.response_tokens.map((n) => /** @type {[string, string]} */ ([`${n} tokens`, `Seconds from the question to token ${n}`])),
    ["Generation", "Tokens generated per second"],
    ["Prompt", "Prompt tokens processed per second"],
    ["First token", "Seconds from the question to the first token"],
    ["Memory", "What the loaded model holds"],
    ["GPU offload", "Layers on the GPU"],
  ];
  const headRow = el(
    "tr",
    {},
    ...heads.map(([h, title]) => el("th", { text: h, attrs: title ? { scope: "col", title } : { scope: "col" } })),
  );
  const rows = table.rows.map((row) => {
    const name = cell(row.name, { header: true });
    if (row.recommended) name.append(" ", el("span", { class: "bench-pick", text: "recommended" }));
    const tr = el(
      "tr",
      {},
      name,
      cell(row.verdict_text, { verdict: row.verdict }),
      ...row.response.map((c) => cell(secs(c.seconds), { verdict: c.verdict, words: c.verdict_text, num: true })),
      cell(row.gen_tok_s === null ? "—" : `${formatNumber(row.gen_tok_s)} tok/s`, { num: true }),
      cell(row.prompt_tok_s === null ? "—" : `${formatNumber(row.prompt_tok_s)} tok/s`, { num: true }),
      cell(secs(row.ttft_s, 2), { num: true }),
      cell(row.memory, { num: true }),
      cell(row.offload, { wide: true }),
    );
    if (row.recommended) tr.dataset.recommended = "true";
    tr.dataset.model = row.name;
    return tr;
  });
  return el(
    "table",
    { class: "bench-table" },
    el("caption", { text: "Benchmark results per model (medians)" }),
    el("thead", {}, headRow),
    el("tbody", {}, ...rows),
  );
}

export class BenchPanel {
  /** @readonly */ #runs = byId("bench-runs", HTMLInputElement);
  /** @readonly */ #run = byId("bench-run", HTMLButtonElement);
  /** @readonly */ #cancel = byId("bench-cancel", HTMLButtonElement);
  /** @readonly */ #progress = byId("bench-progress", HTMLProgressElement);
  /** @readonly */ #state = byId("bench-state");
  /** @readonly */ #step = byId("bench-step");
  /** @readonly */ #time = byId("bench-time");
  /** @readonly */ #error = byId("bench-error");
  /** @readonly */ #result = byId("bench-result");
  /** @readonly */ #recommendation = byId("bench-recommendation");
  /** @readonly */ #meta = byId("bench-meta");
  /** @readonly */ #tableWrap = byId("bench-table-wrap");
  /** @readonly */ #budget = byId("bench-budget");
  /** @readonly */ #tokS = byId("bench-chart-tok_s");
  /** @readonly */ #responseTime = byId("bench-chart-response_time");
  /** @readonly */ #exported = byId("bench-export-result");
  /** @readonly */ #exportButtons = FORMATS.map((f) => byId(`bench-export-${f}`, HTMLButtonElement));
  /** @readonly @type {Send} */ #send;
  /** @readonly @type {"tauri" | "browser"} */ #host;
  /** The last state drawn, so the live region speaks on changes of state, not every update. */
  #lastState = "";

  /**
   * @param {Send} send
   * @param {"tauri" | "browser"} host
   */
  constructor(send, host) {
    this.#send = send;
    this.#host = host;
    this.#run.addEventListener("click", () => void this.#start());
    this.#cancel.addEventListener("click", () => void this.#stop());
    for (const button of this.#exportButtons) {
      button.addEventListener("click", () => void this.#export(/** @type {ExportFormat} */ (button.dataset.format), button));
    }
  }

  /** @returns {Promise<void>} */
  async #start() {
    const runs = this.#runs.value.trim() === "" ? null : readNumber(this.#runs, "Runs", true);
    if (typeof runs === "string") {
      showMessage(this.#error, `${runs} Leave it empty for the config's.`);
      return;
    }
    showMessage(this.#exported, null);
    if (await this.#send({ cmd: "run_bench", runs }, this.#error)) showMessage(this.#error, null);
  }

  /** @returns {Promise<void>} */
  async #stop() {
    this.#cancel.disabled = true;
    if (await this.#send({ cmd: "cancel_bench" }, this.#error)) showMessage(this.#error, null);
  }

  /**
   * @param {ExportFormat} format
   * @param {HTMLButtonElement} button
   * @returns {Promise<void>}
   */
  async #export(format, button) {
    button.disabled = true;
    const file = replyOf(await this.#send({ cmd: "export_bench", format }, this.#error), "exported");
    button.disabled = false;
    if (!file) return;
    showMessage(this.#error, null);
    if (this.#host === "tauri") {
      showMessage(this.#exported, `Saved to ${file.path}`, "info");
    } else {
      download(file);
      showMessage(this.#exported, `Downloaded ${file.file_name} (also saved on the server to ${file.path})`, "info");
    }
  }

  /**
   * @param {BenchTable} table
   * @param {string} tokS
   * @param {string} responseTime
   * @returns {void}
   */
  #showResult(table, tokS, responseTime) {
    const reason = el("span", { class: "bench-reason", text: table.recommendation });
    if (table.recommended) {
      this.#recommendation.replaceChildren("Recommended for voice: ", el("strong", { text: table.recommended }), reason);
    } else {
      this.#recommendation.replaceChildren("No model recommended.", reason);
    }
    this.#meta.textContent = `${table.host}. ${table.settings}.`;
    this.#tableWrap.replaceChildren(resultTable(table));
    this.#budget.textContent = `Times: from the question to an answer's Nth token. Verdicts: ${table.budget}.`;
    insertSvg(this.#tokS, tokS);
    insertSvg(this.#responseTime, responseTime);
    this.#result.hidden = false;
  }

  /**
   * @param {BenchStatus} status
   * @returns {void}
   */
  render(status) {
    const running = status.state === "running";
    this.#state.dataset.state = status.state;
    this.#run.disabled = running;
    this.#cancel.hidden = !running;
    this.#cancel.disabled = running && status.cancelling;
    this.#progress.hidden = !running;
    this.#step.hidden = !running;
    this.#time.hidden = !running;
    // A previous result stays visible and exportable while a new run goes, and after a cancel.
    for (const button of this.#exportButtons) button.disabled = running || this.#result.hidden;
    let state = "";
    switch (status.state) {
      case "idle":
        state = "No benchmark run yet.";
        break;
      case "running":
        state = status.cancelling ? "Cancelling… (it stops at the next safe point)" : "Benchmark running.";
        this.#progress.max = 1;
        this.#progress.value = status.fraction;
        this.#step.textContent = progressText(status);
        this.#time.textContent = timeText(status);
        break;
      case "done":
        state = "Done.";
        this.#showResult(status.table, status.tok_s_svg, status.response_time_svg);
        for (const button of this.#exportButtons) button.disabled = false;
        break;
      case "failed":
        state = `Benchmark failed: ${status.message}`;
        break;
      case "cancelled":
        state = `Cancelled after ${formatDuration(status.elapsed_s)}.`;
        if (!this.#result.hidden) state += " The result below is from the previous run.";
        break;
    }
    // Text for the live region only when it says something new.
    if (state !== this.#lastState) {
      this.#state.textContent = state;
      this.#lastState = state;
    }
  }
}
