// @ts-check
// The first-run card on the Talk tab: the starter set the engine recommends for this machine
// (each model, what it is for, its size), one Download button, the download's progress, then
// the loading steps. The engine decides and does everything; the card renders StarterView and
// sends `install_starter`. Choosing the other set only changes which one the card offers.

import { byId, el, formatBytes, showMessage } from "./dom.js";
import { renderSteps } from "./status.js";

/** @typedef {import("../../bindings/StarterView").StarterView} StarterView */
/** @typedef {import("../../bindings/StarterSet").StarterSet} StarterSet */
/** @typedef {import("../../bindings/StarterSetId").StarterSetId} StarterSetId */
/** @typedef {import("../../bindings/EngineStatus").EngineStatus} EngineStatus */
/** @typedef {import("./transport.js").Send} Send */

export class FirstRunCard {
  /** @readonly */ #card = byId("first-run");
  /** @readonly */ #talk = byId("panel-talk");
  /** @readonly */ #title = byId("first-run-title");
  /** @readonly */ #reason = byId("first-run-reason");
  /** @readonly */ #actions = byId("first-run-actions");
  /** @readonly */ #setName = byId("first-run-set-name");
  /** @readonly */ #total = byId("first-run-total");
  /** @readonly */ #models = byId("first-run-models", HTMLUListElement);
  /** @readonly */ #download = byId("first-run-download", HTMLButtonElement);
  /** @readonly */ #switch = byId("first-run-switch", HTMLButtonElement);
  /** @readonly */ #progressBox = byId("first-run-progress-box");
  /** @readonly */ #progress = byId("first-run-progress", HTMLProgressElement);
  /** @readonly */ #progressText = byId("first-run-progress-text");
  /** @readonly */ #steps = byId("first-run-steps", HTMLOListElement);
  /** @readonly */ #error = byId("first-run-error");
  /** @type {StarterView | null} */ #view = null;
  /** @type {EngineStatus} */ #engine = { state: "unloaded" };
  /** The set the user picked, if not the recommended one. @type {StarterSetId | null} */
  #picked = null;

  /** @param {Send} send */
  constructor(send) {
    this.#download.addEventListener("click", () => {
      const set = this.#shown();
      if (!set) return;
      showMessage(this.#error, null);
      void send({ cmd: "install_starter", set: set.id }, this.#error);
    });
    this.#switch.addEventListener("click", () => {
      const view = this.#view;
      if (!view) return;
      this.#picked = this.#shown()?.id === view.recommended.id ? view.alternative.id : null;
      this.#draw();
    });
  }

  /**
   * Whether the card is up: no models yet, or its download or load still running.
   * @returns {boolean}
   */
  get active() {
    const view = this.#view;
    if (!view || this.#engine.state === "ready") return false;
    return view.needed || view.job.state !== "idle";
  }

  /**
   * @param {StarterView} view
   * @returns {void}
   */
  render(view) {
    this.#view = view;
    this.#draw();
  }

  /**
   * @param {EngineStatus} status
   * @returns {void}
   */
  engine(status) {
    this.#engine = status;
    this.#draw();
  }

  /** @returns {StarterSet | null} */
  #shown() {
    const view = this.#view;
    if (!view) return null;
    // While a download runs or failed, show the set it is for.
    const job = view.job;
    const id = job.state === "idle" ? (this.#picked ?? view.recommended.id) : job.set;
    return id === view.alternative.id ? view.alternative : view.recommended;
  }

  /** @returns {void} */
  #draw() {
    const view = this.#view;
    const set = this.#shown();
    this.#card.hidden = !this.active;
    this.#talk.dataset.firstRun = String(this.active);
    if (!view || !set || !this.active) return;
    const recommended = set.id === view.recommended.id;
    this.#reason.textContent = recommended ? `Recommended for this machine. ${view.reason}` : view.reason;
    this.#setName.textContent = recommended ? `${set.name} (recommended)` : set.name;
    this.#total.textContent =
      set.missing_bytes === set.total_bytes
        ? `${formatBytes(set.total_bytes)} in all`
        : set.missing_bytes === 0
          ? `${formatBytes(set.total_bytes)}, all installed`
          : `${formatBytes(set.missing_bytes)} to download of ${formatBytes(set.total_bytes)}`;
    this.#models.replaceChildren(
      ...set.models.map((m) =>
        el(
          "li",
          { attrs: { "data-id": m.id, "data-installed": String(m.installed) } },
          el("span", { class: "starter-purpose", text: m.purpose }),
          el("span", { class: "starter-name", text: m.name }),
          el("span", { class: "starter-size", text: m.installed ? "installed" : formatBytes(m.size_bytes) }),
        ),
      ),
    );

    const job = view.job;
    const busy = job.state === "downloading" || job.state === "loading";
    this.#title.textContent =
      job.state === "downloading"
        ? "Downloading the models"
        : job.state === "loading"
          ? "Loading the models"
          : "Download the models to start talking";
    // Once downloaded, nothing is left to press: the steps below show the load.
    this.#actions.hidden = job.state === "loading";
    this.#download.disabled = busy;
    this.#download.textContent =
      job.state === "failed" ? "Retry" : `Download ${formatBytes(set.missing_bytes)}`;
    const other = recommended ? view.alternative : view.recommended;
    this.#switch.hidden = busy;
    this.#switch.textContent = recommended
      ? `Or the ${other.name.toLowerCase()} (${formatBytes(other.total_bytes)})`
      : `Back to the recommended ${other.name.toLowerCase()}`;

    this.#progressBox.hidden = job.state !== "downloading";
    if (job.state === "downloading") {
      const pct = job.total_bytes > 0 ? Math.floor((job.done_bytes * 100) / job.total_bytes) : 0;
      this.#progress.value = pct;
      this.#progress.setAttribute("aria-valuetext", `${pct}%`);
      this.#progressText.textContent = job.model
        ? `Downloading ${job.model}… ${formatBytes(job.done_bytes)} of ${formatBytes(job.total_bytes)} (${pct}%)`
        : "Starting the download…";
    }
    // After the download the engine loads the set: its steps show here too.
    renderSteps(this.#steps, this.#engine);
    showMessage(this.#error, job.state === "failed" ? job.message : null);
  }
}
