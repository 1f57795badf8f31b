// @ts-check
// The answering-mode toggle (Local Llama / Cloud Qwen / Auto) and what is known of the
// cloud. The pressed button follows the engine (`mode` events, replies), not the click.

import { byId, showMessage } from "./dom.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/CloudStatus").CloudStatus} CloudStatus */
/** @typedef {import("../../bindings/Mode").Mode} Mode */
/** @typedef {import("./transport.js").Send} Send */

/** @type {Mode[]} */
const MODES = ["local", "cloud", "auto"];

/**
 * @param {CloudStatus} cloud
 * @returns {string}
 */
export function cloudText(cloud) {
  const key = cloud.key_set ? "key set" : "key not set";
  const reachable = cloud.reachable === null ? "unknown" : cloud.reachable ? "yes" : "no";
  const where = [cloud.provider, cloud.model].filter((s) => s).join(" · ");
  const detail = cloud.detail ? ` — ${cloud.detail}` : "";
  return `Cloud (${where}): ${key} · reachable: ${reachable}${detail}`;
}

export class ModeView {
  /** @readonly @type {Map<Mode, HTMLButtonElement>} */
  #buttons = new Map(MODES.map((m) => [m, byId(`mode-${m}`, HTMLButtonElement)]));
  /** @readonly */ #cloud = byId("cloud-status");
  /** @readonly */ #check = byId("cloud-check", HTMLButtonElement);
  /** @readonly */ #error = byId("mode-error");
  /** @readonly @type {Send} */ #send;

  /** @param {Send} send */
  constructor(send) {
    this.#send = send;
    for (const [mode, button] of this.#buttons) {
      button.addEventListener("click", () => void this.#choose(mode));
    }
    this.#check.addEventListener("click", () => void this.#checkCloud());
  }

  /**
   * @param {Mode} mode
   * @returns {Promise<void>}
   */
  async #choose(mode) {
    const reply = await this.#send({ cmd: "set_mode", mode }, this.#error);
    if (!reply) return;
    showMessage(this.#error, null);
    // The `mode` event follows too; the reply alone is enough to show the choice took.
    this.setMode(mode);
    if (reply.kind === "cloud") this.setCloud(reply.cloud);
  }

  /** @returns {Promise<void>} */
  async #checkCloud() {
    this.#check.disabled = true;
    this.#cloud.dataset.checking = "true"; // styles.css adds "checking…"
    const reply = await this.#send({ cmd: "check_cloud" }, this.#error);
    this.#check.disabled = false;
    delete this.#cloud.dataset.checking;
    const cloud = replyOf(reply, "cloud");
    if (cloud) {
      showMessage(this.#error, null);
      this.setCloud(cloud.cloud);
    }
  }

  /**
   * @param {Mode} mode
   * @returns {void}
   */
  setMode(mode) {
    for (const [m, button] of this.#buttons) button.setAttribute("aria-pressed", String(m === mode));
  }

  /**
   * @param {CloudStatus} cloud
   * @returns {void}
   */
  setCloud(cloud) {
    this.#cloud.textContent = cloudText(cloud);
    this.#cloud.dataset.keySet = String(cloud.key_set);
    this.#cloud.dataset.reachable = cloud.reachable === null ? "unknown" : String(cloud.reachable);
  }
}
