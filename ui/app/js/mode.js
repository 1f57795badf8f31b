// @ts-check
// The answering-mode toggle and what is known of the cloud. The buttons name the configured
// models ("Local · SmolLM2 135M", "Cloud · Qwen 2.5 7B"); without a key for a cloud that
// needs one, the card says so, links to the key field, and marks Cloud and Auto. The pressed
// button follows the engine (`mode` events, replies), not the click.

import { byId, el, showMessage } from "./dom.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/CloudStatus").CloudStatus} CloudStatus */
/** @typedef {import("../../bindings/KeyStore").KeyStore} KeyStore */
/** @typedef {import("../../bindings/Mode").Mode} Mode */
/** @typedef {import("./transport.js").Send} Send */

/** @type {Mode[]} */
const MODES = ["local", "cloud", "auto"];

/** @type {Record<Mode, string>} */
const KIND = { local: "Local", cloud: "Cloud", auto: "Auto" };

/** @type {Record<KeyStore, string>} */
const STORE_WORDS = {
  keyring: "key in the system keyring",
  file: "key in the key file",
  env: "key from the environment",
  none: "no key",
};

/**
 * The API's host as people know it ("openrouter.ai", "127.0.0.1:8080").
 * @param {string} url
 * @returns {string}
 */
function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * Whether the cloud needs a key and has none: the state the card and the buttons warn about.
 * @param {CloudStatus} cloud
 * @returns {boolean}
 */
export function missingKey(cloud) {
  return cloud.key_required && !cloud.key_set;
}

/**
 * One line on the cloud: model and host, where the key is, whether it answered, and the last
 * check's words.
 * @param {CloudStatus} cloud
 * @returns {string}
 */
export function cloudText(cloud) {
  const where = `${cloud.model_short || cloud.model} at ${hostOf(cloud.base_url)}`;
  const key = cloud.key_set ? STORE_WORDS[cloud.key_store] : cloud.key_required ? "no key" : "no key needed";
  const reachable = cloud.reachable === null ? "not checked" : cloud.reachable ? "reachable" : "not reachable";
  // Without a key the card's own line says so; the detail would repeat it.
  const detail = cloud.detail && !missingKey(cloud) ? ` — ${cloud.detail}` : "";
  return `${where}: ${key} · ${reachable}${detail}`;
}

export class ModeView {
  /** @readonly @type {Map<Mode, HTMLButtonElement>} */
  #buttons = new Map(MODES.map((m) => [m, byId(`mode-${m}`, HTMLButtonElement)]));
  /** @readonly */ #cloud = byId("cloud-status");
  /** @readonly */ #check = byId("cloud-check", HTMLButtonElement);
  /** @readonly */ #noKey = byId("cloud-nokey");
  /** @readonly */ #noKeyHint = byId("cloud-nokey-hint");
  /** @readonly */ #error = byId("mode-error");
  /** @readonly @type {Send} */ #send;
  /** @type {string} */ #localModel = "";
  /** @type {CloudStatus | null} */ #lastCloud = null;

  /**
   * @param {Send} send
   * @param {() => void} onAddKey opens Settings at the key field
   */
  constructor(send, onAddKey) {
    this.#send = send;
    for (const [mode, button] of this.#buttons) {
      button.addEventListener("click", () => void this.#choose(mode));
    }
    this.#check.addEventListener("click", () => void this.#checkCloud());
    byId("cloud-add-key").addEventListener("click", onAddKey);
    this.#label();
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
    this.#noKey.dataset.mode = mode;
  }

  /**
   * The configured local model's short name (`mode` events, status).
   * @param {string} name
   * @returns {void}
   */
  setLocalModel(name) {
    this.#localModel = name;
    this.#label();
  }

  /**
   * @param {CloudStatus} cloud
   * @returns {void}
   */
  setCloud(cloud) {
    this.#lastCloud = cloud;
    this.#cloud.textContent = cloudText(cloud);
    this.#cloud.dataset.keySet = String(cloud.key_set);
    this.#cloud.dataset.reachable = cloud.reachable === null ? "unknown" : String(cloud.reachable);
    const missing = missingKey(cloud);
    this.#noKey.hidden = !missing;
    this.#noKeyHint.textContent = missing ? `Cloud turns are answered locally until then. Or set ${cloud.key_env}.` : "";
    // Nothing to check without a key: the answer is known.
    this.#check.disabled = missing;
    this.#label();
  }

  /**
   * Each button: the mode and the model it uses; Cloud and Auto marked while the key is missing.
   * @returns {void}
   */
  #label() {
    const cloud = this.#lastCloud;
    const missing = cloud !== null && missingKey(cloud);
    /** @type {Record<Mode, string>} */
    const models = { local: this.#localModel, cloud: cloud ? cloud.model_short : "", auto: "per question" };
    /** @type {Record<Mode, string>} */
    const warnings = {
      local: "",
      cloud: "No API key: Cloud turns are answered locally. Add a key in Settings.",
      auto: "No API key: Auto answers every turn locally. Add a key in Settings.",
    };
    for (const [mode, button] of this.#buttons) {
      const model = models[mode];
      const label = model ? `${KIND[mode]} · ${model}` : KIND[mode];
      const children = [el("span", { class: "mode-kind", text: KIND[mode] })];
      if (model) {
        children.push(el("span", { class: "mode-sep", text: " · " }), el("span", { class: "mode-model", text: model }));
      }
      button.replaceChildren(...children);
      const warn = missing && warnings[mode] !== "";
      if (warn) {
        button.dataset.warn = "no-key";
        button.title = warnings[mode];
        button.setAttribute("aria-label", `${label} (no API key)`);
      } else {
        delete button.dataset.warn;
        button.title = label;
        button.removeAttribute("aria-label");
      }
    }
  }
}
