// @ts-check
// The cloud API key form in Settings. Write-only: the key goes to the engine (set_cloud_key),
// which keeps it in the system keyring or, where there is none (a Jetson over SSH), in a key
// file only the user can read; the page never holds it longer than the request and no reply
// carries it back. Forget removes it from wherever it is kept.

import { byId, showMessage } from "./dom.js";

/** @typedef {import("../../bindings/CloudStatus").CloudStatus} CloudStatus */
/** @typedef {import("./transport.js").Send} Send */

/**
 * Where the key in use is kept, in words (never the key).
 * @param {CloudStatus} cloud
 * @returns {string}
 */
function keyStateText(cloud) {
  switch (cloud.key_store) {
    case "keyring":
      return "A key is stored in the system keyring.";
    case "file":
      return `A key is stored in ${cloud.key_file ?? "the key file"} (readable only by you).`;
    case "env":
      return `The key comes from ${cloud.key_env} in voxdeck's environment.`;
    case "none":
      return cloud.key_required ? "No key stored." : "No key needed for a server on this machine.";
  }
}

export class CloudKeyForm {
  /** @readonly */ #form = byId("cloud-key-form", HTMLFormElement);
  /** @readonly */ #key = byId("cloud-key", HTMLInputElement);
  /** @readonly */ #state = byId("cloud-key-state");
  /** @readonly */ #where = byId("cloud-key-where");
  /** @readonly */ #result = byId("cloud-key-result");
  /** @readonly @type {Send} */ #send;
  /** @readonly @type {(cloud: CloudStatus) => void} */ #onCloud;

  /**
   * @param {Send} send
   * @param {(cloud: CloudStatus) => void} onCloud the mode card, told of every cloud status
   */
  constructor(send, onCloud) {
    this.#send = send;
    this.#onCloud = onCloud;
    this.#form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.#store();
    });
    byId("cloud-key-forget").addEventListener("click", () => void this.#forget());
  }

  /** @returns {Promise<void>} */
  async #store() {
    const key = this.#key.value.trim();
    if (!key) {
      showMessage(this.#result, "Type a key first.");
      return;
    }
    const reply = await this.#send({ cmd: "set_cloud_key", key }, this.#result);
    // On failure the field keeps the key, so it need not be pasted again.
    if (!reply) return;
    // Never kept in the page longer than the request.
    this.#key.value = "";
    const cloud = reply.kind === "cloud" ? reply.cloud : null;
    const where = cloud?.key_store === "file" ? `${cloud.key_file} (readable only by you)` : "the system keyring";
    showMessage(this.#result, `Key stored in ${where}.`, "info");
    if (cloud) this.show(cloud);
  }

  /** @returns {Promise<void>} */
  async #forget() {
    const reply = await this.#send({ cmd: "forget_cloud_key" }, this.#result);
    if (!reply) return;
    const cloud = reply.kind === "cloud" ? reply.cloud : null;
    const still = cloud?.key_store === "env" ? ` ${cloud.key_env} still holds one: unset it to stop using it.` : "";
    showMessage(this.#result, `Key forgotten.${still}`, "info");
    if (cloud) this.show(cloud);
  }

  /**
   * Shows the key field and puts the cursor in it (the mode card's "Add key").
   * @returns {void}
   */
  focus() {
    this.#form.scrollIntoView({ block: "center" });
    this.#key.focus();
  }

  /**
   * Says where a key is kept and where a new one would go (called with every cloud status:
   * `mode` events, status, settings and the key commands' replies), and passes it on.
   * @param {CloudStatus} cloud
   * @returns {void}
   */
  show(cloud) {
    this.#state.textContent = keyStateText(cloud);
    this.#state.dataset.keySet = String(cloud.key_set);
    this.#where.textContent = cloud.keyring_available
      ? "Stored in the system keyring. It is never shown again, here or anywhere."
      : `This machine has no system keyring (no Secret Service, as over SSH): the key is kept in ` +
        `${cloud.key_file ?? "a key file"}, readable only by you. Or set ${cloud.key_env} in voxdeck's ` +
        `environment instead. It is never shown again.`;
    this.#where.dataset.keyring = String(cloud.keyring_available);
    this.#onCloud(cloud);
  }
}
