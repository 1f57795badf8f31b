// @ts-check
// The Bench tab's latency benchmark: starts and cancels `bench latency` in the engine (the
// spoken question set through the whole voice loop), follows its `latency_bench` events (turn
// N of M), and shows the p50 / p90 table and the chart. Engine text goes in as text.

import { byId, el, insertSvg, showMessage } from "./dom.js";
import { formatDuration } from "./bench.js";

/** @typedef {import("../../bindings/LatencyStatus").LatencyStatus} LatencyStatus */
/** @typedef {import("../../bindings/LatencyTable").LatencyTable} LatencyTable */
/** @typedef {import("./transport.js").Send} Send */

/**
 * The table: one row per figure, a column per group (single turns / conversation turns 2+,
 * streaming / whole answer), "p50 / p90" cells.
 * @param {LatencyTable} table
 * @returns {HTMLTableElement}
 */
function latencyTable(table) {
  const head = el(
    "tr",
    {},
    el("th", { text: "p50 / p90", attrs: { scope: "col" } }),
    ...table.columns.map((c) => el("th", { text: c, attrs: { scope: "col" } })),
  );
  const rows = table.rows.map((row) => {
    const tr = el(
      "tr",
      {},
      el("th", { text: row.label, attrs: { scope: "row" } }),
      ...row.cells.map((c) => el("td", { class: "num", text: c })),
    );
    tr.dataset.key = row.key;
    if (row.headline) tr.dataset.headline = "true";
    return tr;
  });
  return el(
    "table",
    { class: "bench-table latency-table" },
    el("caption", { text: "Milliseconds from the release (p50 / p90)" }),
    el("thead", {}, head),
    el("tbody", {}, ...rows),
  );
}

export class LatencyPanel {
  /** @readonly */ #limit = byId("latency-limit", HTMLInputElement);
  /** @readonly */ #run = byId("latency-run", HTMLButtonElement);
  /** @readonly */ #cancel = byId("latency-cancel", HTMLButtonElement);
  /** @readonly */ #progress = byId("latency-progress", HTMLProgressElement);
  /** @readonly */ #step = byId("latency-step");
  /** @readonly */ #state = byId("latency-state");
  /** @readonly */ #error = byId("latency-error");
  /** @readonly */ #result = byId("latency-result");
  /** @readonly */ #setup = byId("latency-setup");
  /** @readonly */ #tableWrap = byId("latency-table-wrap");
  /** @readonly */ #problems = byId("latency-problems");
  /** @readonly */ #chart = byId("latency-chart");
  /** @readonly @type {Send} */ #send;
  #lastState = "";

  /** @param {Send} send */
  constructor(send) {
    this.#send = send;
    this.#run.addEventListener("click", () => void this.#start());
    this.#cancel.addEventListener("click", () => void this.#stop());
  }

  /** @returns {Promise<void>} */
  async #start() {
    const text = this.#limit.value.trim();
    const limit = text === "" ? null : Number(text);
    if (limit !== null && (!Number.isInteger(limit) || limit < 1)) {
      showMessage(this.#error, "Questions: a whole number from 1, or empty for the whole set.");
      return;
    }
    if (await this.#send({ cmd: "run_latency_bench", limit, voice: null }, this.#error)) showMessage(this.#error, null);
  }

  /** @returns {Promise<void>} */
  async #stop() {
    this.#cancel.disabled = true;
    if (await this.#send({ cmd: "cancel_latency_bench" }, this.#error)) showMessage(this.#error, null);
  }

  /**
   * @param {LatencyStatus} status
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
    let state = "";
    switch (status.state) {
      case "idle":
        state = "No latency run yet.";
        break;
      case "running":
        state = status.cancelling ? "Cancelling… (after the turn in flight)" : "Latency benchmark running.";
        this.#progress.value = status.fraction;
        this.#step.textContent =
          status.total > 0
            ? `Turn ${Math.min(status.done + 1, status.total)} of ${status.total}: ${status.step} (${formatDuration(status.elapsed_s)} so far)`
            : `${status.step} (${formatDuration(status.elapsed_s)} so far)`;
        break;
      case "done":
        state = "Done.";
        this.#setup.textContent = status.table.setup;
        this.#tableWrap.replaceChildren(latencyTable(status.table));
        this.#problems.replaceChildren(...status.table.problems.map((p) => el("li", { text: p })));
        this.#problems.hidden = status.table.problems.length === 0;
        insertSvg(this.#chart, status.chart_svg);
        this.#result.hidden = false;
        break;
      case "failed":
        state = `Latency benchmark failed: ${status.message}`;
        break;
      case "cancelled":
        state = `Cancelled after ${formatDuration(status.elapsed_s)}.`;
        break;
    }
    if (state !== this.#lastState) {
      this.#state.textContent = state;
      this.#lastState = state;
    }
  }
}
