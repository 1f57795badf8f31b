// @ts-check
// The header: where the models are (EngineStatus) with Load / Unload, and, in the browser,
// whether the WebSocket is up.

import { byId } from "./dom.js";

/** @typedef {import("../../bindings/EngineStatus").EngineStatus} EngineStatus */
/** @typedef {import("./transport.js").ConnectionState} ConnectionState */
/** @typedef {import("./transport.js").Send} Send */

/**
 * @param {EngineStatus} status
 * @returns {string}
 */
export function engineText(status) {
  switch (status.state) {
    case "unloaded":
      return "Models not loaded";
    case "loading":
      return `Loading: ${status.step}…`;
    case "ready":
      return `Ready · LLM ${status.llm} · STT ${status.stt} · voice ${status.voice} · loaded in ${(status.load_ms / 1000).toFixed(1)} s`;
    case "failed":
      return `Loading failed: ${status.message}`;
  }
}

export class StatusView {
  /** @readonly */ #text = byId("engine-status");
  /** @readonly */ #load = byId("engine-load", HTMLButtonElement);
  /** @readonly */ #unload = byId("engine-unload", HTMLButtonElement);
  /** @readonly */ #error = byId("engine-error");
  /** @readonly */ #connection = byId("connection");

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
  }

  /**
   * @param {EngineStatus} status
   * @returns {void}
   */
  engine(status) {
    this.#text.textContent = engineText(status);
    this.#text.dataset.state = status.state;
    this.#load.disabled = status.state === "loading" || status.state === "ready";
    this.#unload.disabled = status.state === "unloaded";
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
