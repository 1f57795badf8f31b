// @ts-check
// The Bench tab: starts the model benchmark, follows its `bench` events, shows the result
// (Markdown table as text, two SVG charts) and exports it. In the browser an export becomes a
// download; in the desktop app the backend has already written the file.

import { byId, insertSvg, showMessage } from "./dom.js";
import { readNumber } from "./limits.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/BenchStatus").BenchStatus} BenchStatus */
/** @typedef {import("../../bindings/ExportFormat").ExportFormat} ExportFormat */
/** @typedef {import("../../bindings/Reply").Reply} Reply */
/** @typedef {import("./transport.js").Send} Send */
/** @typedef {Extract<Reply, { kind: "exported" }>} Exported */

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

export class BenchPanel {
  /** @readonly */ #runs = byId("bench-runs", HTMLInputElement);
  /** @readonly */ #run = byId("bench-run", HTMLButtonElement);
  /** @readonly */ #progress = byId("bench-progress", HTMLProgressElement);
  /** @readonly */ #state = byId("bench-state");
  /** @readonly */ #error = byId("bench-error");
  /** @readonly */ #result = byId("bench-result");
  /** @readonly */ #markdown = byId("bench-markdown");
  /** @readonly */ #tokS = byId("bench-chart-tok_s");
  /** @readonly */ #responseTime = byId("bench-chart-response_time");
  /** @readonly */ #exported = byId("bench-export-result");
  /** @readonly */ #exportButtons = FORMATS.map((f) => byId(`bench-export-${f}`, HTMLButtonElement));
  /** @readonly @type {Send} */ #send;
  /** @readonly @type {"tauri" | "browser"} */ #host;

  /**
   * @param {Send} send
   * @param {"tauri" | "browser"} host
   */
  constructor(send, host) {
    this.#send = send;
    this.#host = host;
    this.#run.addEventListener("click", () => void this.#start());
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
   * @param {BenchStatus} status
   * @returns {void}
   */
  render(status) {
    this.#state.dataset.state = status.state;
    this.#run.disabled = status.state === "running";
    this.#progress.hidden = status.state !== "running";
    for (const button of this.#exportButtons) button.disabled = status.state !== "done";
    switch (status.state) {
      case "idle":
        this.#state.textContent = "No benchmark run yet.";
        break;
      case "running":
        if (status.total > 0) {
          this.#progress.max = status.total;
          this.#progress.value = status.done;
        } else {
          this.#progress.removeAttribute("value");
        }
        this.#state.textContent = `Running ${status.done} of ${status.total}: ${status.model} — ${status.step}`;
        break;
      case "done":
        this.#state.textContent = "Done.";
        this.#markdown.textContent = status.markdown;
        insertSvg(this.#tokS, status.tok_s_svg);
        insertSvg(this.#responseTime, status.response_time_svg);
        break;
      case "failed":
        this.#state.textContent = `Benchmark failed: ${status.message}`;
        break;
    }
    // A result stays visible while a new run is going; it is replaced when that one ends.
    this.#result.hidden = this.#markdown.textContent === "";
  }
}
