// @ts-check
// The header: a short pill for where the models are (EngineStatus), its details on hover and
// in an expandable panel (with the loading steps), Load / Unload, and, in the browser, whether
// the WebSocket is up.

import { byId, el, showMessage } from "./dom.js";

/** @typedef {import("../../bindings/EngineStatus").EngineStatus} EngineStatus */
/** @typedef {import("./transport.js").ConnectionState} ConnectionState */
/** @typedef {import("./transport.js").Send} Send */

/**
 * The pill's few words.
 * @param {EngineStatus} status
 * @param {boolean} firstRun no models installed yet
 * @returns {string}
 */
export function engineText(status, firstRun) {
  switch (status.state) {
    case "unloaded":
      return firstRun ? "No models" : "Not loaded";
    case "loading":
      return status.index > 0 ? `Loading ${status.index}/${status.of}` : "Loading";
    case "ready":
      return "Ready";
    case "failed":
      return firstRun ? "No models" : "Load failed";
  }
}

/**
 * The details: on hover (title) and in the expandable panel.
 * @param {EngineStatus} status
 * @param {boolean} firstRun
 * @returns {string}
 */
export function engineDetail(status, firstRun) {
  if (firstRun && status.state !== "loading" && status.state !== "ready") {
    return "No models are installed yet: download them on the Talk tab.";
  }
  switch (status.state) {
    case "unloaded":
      return "The models are not loaded: press Load.";
    case "loading":
      return `Loading: ${status.step}…`;
    case "ready":
      return `LLM ${status.llm} · speech to text ${status.stt} · voice ${status.voice} · loaded in ${(status.load_ms / 1000).toFixed(1)} s`;
    case "failed":
      return `Loading failed: ${status.message}`;
  }
}

/**
 * Draws the loading stepper into `list` (hidden unless loading): each step done, active or
 * pending.
 * @param {HTMLOListElement} list
 * @param {EngineStatus} status
 * @returns {void}
 */
export function renderSteps(list, status) {
  list.hidden = status.state !== "loading";
  if (status.state !== "loading") return;
  list.replaceChildren(
    ...status.steps.map((name, i) => {
      const n = i + 1;
      const state = n < status.index ? "done" : n === status.index ? "active" : "pending";
      const item = el("li", { text: name, attrs: { "data-state": state } });
      if (state === "active") item.setAttribute("aria-current", "step");
      return item;
    }),
  );
}

export class StatusView {
  /** @readonly */ #pill = byId("engine-status", HTMLButtonElement);
  /** @readonly */ #load = byId("engine-load", HTMLButtonElement);
  /** @readonly */ #unload = byId("engine-unload", HTMLButtonElement);
  /** @readonly */ #error = byId("engine-error");
  /** @readonly */ #detail = byId("engine-detail");
  /** @readonly */ #detailText = byId("engine-detail-text");
  /** @readonly */ #steps = byId("engine-steps", HTMLOListElement);
  /** @readonly */ #connection = byId("connection");
  /** @type {EngineStatus} */ #status = { state: "unloaded" };
  #firstRun = false;

  /**
   * @param {Send} send
   * @param {"tauri" | "browser"} host
   */
  constructor(send, host) {
    // The desktop app talks to its engine in-process: no connection to show.
    this.#connection.hidden = host === "tauri";
    document.body.dataset.host = host;
    this.#load.addEventListener("click", () => void send({ cmd: "load_models" }, this.#error));
    this.#unload.addEventListener("click", () => void send({ cmd: "unload_models" }, this.#error));
    this.#pill.addEventListener("click", () => {
      const open = this.#detail.hidden;
      this.#detail.hidden = !open;
      this.#pill.setAttribute("aria-expanded", String(open));
    });
  }

  /**
   * @param {EngineStatus} status
   * @returns {void}
   */
  engine(status) {
    // A message from the previous state (a failed Load, say) no longer applies.
    if (status.state !== this.#status.state) showMessage(this.#error, null);
    this.#status = status;
    this.#draw();
  }

  /**
   * Whether no models are installed yet (the Talk tab then offers them): the header points
   * there instead of showing the loader's message.
   * @param {boolean} firstRun
   * @returns {void}
   */
  setFirstRun(firstRun) {
    this.#firstRun = firstRun;
    this.#draw();
  }

  /** @returns {void} */
  #draw() {
    const status = this.#status;
    const detail = engineDetail(status, this.#firstRun);
    this.#pill.textContent = engineText(status, this.#firstRun);
    this.#pill.title = detail;
    this.#pill.dataset.state = status.state;
    this.#pill.dataset.firstRun = String(this.#firstRun);
    this.#detailText.textContent = detail;
    renderSteps(this.#steps, status);
    this.#load.disabled = status.state === "loading" || status.state === "ready" || this.#firstRun;
    this.#unload.disabled = status.state !== "ready";
  }

  /**
   * @param {ConnectionState} state
   * @returns {void}
   */
  setConnection(state) {
    this.#connection.dataset.state = state;
    document.body.dataset.connection = state;
    this.#connection.textContent =
      state === "connected" ? "connected" : state === "connecting" ? "connecting…" : "disconnected, reconnecting…";
  }
}
