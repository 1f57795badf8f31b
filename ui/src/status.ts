// The header: where the models are (EngineStatus) with Load / Unload, and, in the browser,
// whether the WebSocket is up.

import type { EngineStatus } from "./bindings/EngineStatus.js";
import { byId } from "./dom.js";
import type { ConnectionState, Send } from "./transport.js";

export function engineText(status: EngineStatus): string {
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
  private readonly text = byId("engine-status");
  private readonly load = byId<HTMLButtonElement>("engine-load");
  private readonly unload = byId<HTMLButtonElement>("engine-unload");
  private readonly error = byId("engine-error");
  private readonly connection = byId("connection");

  constructor(send: Send, host: "tauri" | "browser") {
    // The desktop app talks to its engine in-process: no connection to show.
    this.connection.hidden = host === "tauri";
    document.body.dataset.host = host;
    this.load.addEventListener("click", () => void send({ cmd: "load_models" }, this.error));
    this.unload.addEventListener("click", () => void send({ cmd: "unload_models" }, this.error));
  }

  engine(status: EngineStatus): void {
    this.text.textContent = engineText(status);
    this.text.dataset.state = status.state;
    this.load.disabled = status.state === "loading" || status.state === "ready";
    this.unload.disabled = status.state === "unloaded";
  }

  setConnection(state: ConnectionState): void {
    this.connection.dataset.state = state;
    document.body.dataset.connection = state;
    this.connection.textContent =
      state === "connected" ? "connected" : state === "connecting" ? "connecting…" : "disconnected, reconnecting…";
  }
}
