// @ts-check
// The Settings tab: the settings form (get_settings / set_settings) and the model catalog with
// downloads (the cloud key form beside them is cloud_key.js). The form is loaded when the tab opens and
// is not overwritten while the user has unsaved edits.
//
// Fields are checked by the engine (validate_settings: the config loader's own rules) as the
// user types, and each problem is shown beside its field; only "is it a number" is checked
// here. A model choice that is not installed turns Save into "Download and switch"
// (switch_models); switching reports as `switch` events, each replacing the last message.

import { byId, el, formatBytes, showMessage } from "./dom.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/CloudProvider").CloudProvider} CloudProvider */
/** @typedef {import("../../bindings/CloudStatus").CloudStatus} CloudStatus */
/** @typedef {import("../../bindings/DownloadStatus").DownloadStatus} DownloadStatus */
/** @typedef {import("../../bindings/FieldProblem").FieldProblem} FieldProblem */
/** @typedef {import("../../bindings/SwitchStatus").SwitchStatus} SwitchStatus */
/** @typedef {import("../../bindings/Mode").Mode} Mode */
/** @typedef {import("../../bindings/ModelView").ModelView} ModelView */
/** @typedef {import("../../bindings/Settings").Settings} Settings */
/** @typedef {import("../../bindings/SettingsView").SettingsView} View */
/** @typedef {import("../../bindings/TtsEngine").TtsEngine} TtsEngine */
/** @typedef {import("./transport.js").Send} Send */

/** @typedef {[value: string, label: string]} Option */

/** The Settings fields, as the form's ids (`set-<field>`) name them. @type {(keyof Settings)[]} */
const FIELDS = [
  "llm_model", "max_tokens", "mode", "natural_s", "acceptable_s", "unusable_s", "cloud_provider",
  "cloud_base_url", "cloud_model", "tts_engine", "tts_voice", "input_device", "output_device", "global_shortcut",
];

/** How long typing pauses before the engine checks the fields. */
const VALIDATE_DELAY_MS = 300;

/**
 * Fills a select, keeping `current` selectable even when it is not among the choices.
 * @param {HTMLSelectElement} select
 * @param {Option[]} options
 * @param {string} current
 * @returns {void}
 */
function fillSelect(select, options, current) {
  /** @type {Option[]} */
  const all = options.some(([v]) => v === current) ? options : [...options, [current, current]];
  select.replaceChildren(...all.map(([value, label]) => el("option", { text: label, attrs: { value } })));
  select.value = current;
}

/**
 * @param {ModelView[]} models
 * @param {string} kind
 * @param {string} none
 * @returns {Option[]}
 */
function modelOptions(models, kind, none) {
  return [
    ["", none],
    ...models
      .filter((m) => m.kind === kind)
      .map((m) => /** @type {Option} */ ([m.id, m.installed ? m.name : `${m.name} (not installed)`])),
  ];
}

/**
 * @param {string[]} devices
 * @returns {Option[]}
 */
function deviceOptions(devices) {
  return [["", "system default"], ...devices.map((d) => /** @type {Option} */ ([d, d]))];
}

/**
 * @param {DownloadStatus} s
 * @returns {string}
 */
function downloadText(s) {
  switch (s.phase) {
    case "downloading":
      return s.total_bytes > 0
        ? `downloading ${formatBytes(s.done_bytes)} of ${formatBytes(s.total_bytes)}`
        : `downloading ${formatBytes(s.done_bytes)}`;
    case "verifying":
      return "verifying…";
    case "done":
      return "installed ✓";
    case "failed":
      return `download failed: ${s.error ?? "no reason given"}`;
    default:
      return s.error ? `${s.phase}: ${s.error}` : s.phase;
  }
}

export class SettingsPanel {
  /** @readonly */ #form = byId("settings-form", HTMLFormElement);
  /** @readonly */ #error = byId("settings-error");
  /** @readonly */ #result = byId("settings-result");
  /** @readonly */ #reload = byId("settings-reload");
  /** @readonly */ #configPath = byId("settings-path");
  /** @readonly */ #deviceError = byId("device-error");
  /** @readonly */ #models = byId("models");
  /** @readonly */ #saveButton = byId("settings-save", HTMLButtonElement);
  /** @readonly */ #reloadButton = byId("settings-reload-models", HTMLButtonElement);

  #loaded = false;
  #dirty = false;
  /** The catalog as last shown, for the install state of the model choices. @type {ModelView[]} */
  #catalog = [];
  /** The last switch state. @type {SwitchStatus} */
  #switch = { state: "idle" };
  /** The pending live check. @type {ReturnType<typeof setTimeout> | undefined} */
  #validateTimer;
  /** Increases with every check, so only the newest reply marks the fields. */
  #validateSeq = 0;
  /**
   * Latest download state per model id, so a list drawn later still shows it.
   * @readonly @type {Map<string, DownloadStatus>}
   */
  #downloads = new Map();
  /** @readonly @type {Send} */ #send;
  /** @readonly @type {(cloud: CloudStatus) => void} */ #onCloud;

  /**
   * @param {Send} send
   * @param {(cloud: CloudStatus) => void} onCloud
   */
  constructor(send, onCloud) {
    this.#send = send;
    this.#onCloud = onCloud;
    this.#form.addEventListener("input", () => {
      this.#dirty = true;
      this.#scheduleValidate();
    });
    this.#form.addEventListener("change", () => this.#showModelChoice());
    this.#form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.#save();
    });
    byId("settings-reload-models").addEventListener("click", () => void this.#reloadModels());
  }

  /**
   * @param {string} id
   * @returns {HTMLSelectElement}
   */
  #select(id) {
    return byId(`set-${id}`, HTMLSelectElement);
  }

  /**
   * @param {string} id
   * @returns {HTMLInputElement}
   */
  #input(id) {
    return byId(`set-${id}`, HTMLInputElement);
  }

  /**
   * The tab was opened: load the settings unless the user is editing them.
   * @returns {void}
   */
  open() {
    if (!this.#loaded || !this.#dirty) void this.#load(false);
  }

  /**
   * Reconnected: what we show may be stale; reload on next open (now if visible).
   * @param {boolean} visible
   * @returns {void}
   */
  invalidate(visible) {
    this.#loaded = false;
    if (visible) this.open();
  }

  /**
   * @param {boolean} keepForm
   * @returns {Promise<void>}
   */
  async #load(keepForm) {
    const reply = replyOf(await this.#send({ cmd: "get_settings" }, this.#error), "settings");
    if (!reply) return;
    showMessage(this.#error, null);
    this.#render(reply.view, keepForm);
    this.#loaded = true;
  }

  /**
   * @param {View} view
   * @param {boolean} keepForm
   * @returns {void}
   */
  #render(view, keepForm) {
    const s = view.settings;
    // Selects are refilled (new models, devices) but keep the user's pending choice.
    /**
     * @param {keyof Settings} id
     * @param {string} fallback
     * @returns {string}
     */
    const pick = (id, fallback) => (keepForm ? this.#select(id).value : fallback);
    fillSelect(this.#select("llm_model"), modelOptions(view.models, "llm", "best installed"), pick("llm_model", s.llm_model));
    fillSelect(this.#select("tts_voice"), modelOptions(view.models, "tts", "best installed"), pick("tts_voice", s.tts_voice));
    fillSelect(this.#select("input_device"), deviceOptions(view.input_devices), pick("input_device", s.input_device));
    fillSelect(this.#select("output_device"), deviceOptions(view.output_devices), pick("output_device", s.output_device));
    showMessage(this.#deviceError, view.device_error ? `Audio devices could not be listed: ${view.device_error}` : null);
    this.#configPath.textContent = view.config_path ? `Config file: ${view.config_path}` : "No config file yet (saving creates one).";

    if (!keepForm) {
      this.#select("mode").value = s.mode;
      this.#select("cloud_provider").value = s.cloud_provider;
      this.#select("tts_engine").value = s.tts_engine;
      this.#input("max_tokens").value = String(s.max_tokens);
      this.#input("natural_s").value = String(s.natural_s);
      this.#input("acceptable_s").value = String(s.acceptable_s);
      this.#input("unusable_s").value = String(s.unusable_s);
      this.#input("cloud_base_url").value = s.cloud_base_url;
      this.#input("cloud_model").value = s.cloud_model;
      this.#input("global_shortcut").value = s.global_shortcut;
      this.#dirty = false;
      this.#markFields([]);
    }
    this.#catalog = view.models;
    this.#onCloud(view.cloud);
    this.#renderModels(view.models);
    this.#showModelChoice();
  }

  /**
   * The message element beside a field, made on first use and tied to it for screen readers.
   * @param {string} field
   * @returns {HTMLElement | null}
   */
  #fieldMessage(field) {
    const input = document.getElementById(`set-${field}`);
    if (!input) return null;
    const id = `set-${field}-error`;
    const existing = document.getElementById(id);
    if (existing) return existing;
    const span = el("span", { class: "message field-error", attrs: { id, "data-kind": "error" } });
    span.hidden = true;
    input.after(span);
    input.setAttribute("aria-describedby", id);
    return span;
  }

  /**
   * Shows each problem beside its field and clears the others. Problems in no panel field
   * go to the form's error line.
   * @param {FieldProblem[]} problems
   * @returns {void}
   */
  #markFields(problems) {
    for (const field of FIELDS) {
      const problem = problems.find((p) => p.field === field);
      const input = document.getElementById(`set-${field}`);
      if (problem) input?.setAttribute("aria-invalid", "true");
      else input?.removeAttribute("aria-invalid");
      const message = problem ? problem.message : null;
      // Made only when there is something to say.
      const target = message ? this.#fieldMessage(field) : document.getElementById(`set-${field}-error`);
      if (target) showMessage(target, message);
    }
    const other = problems.filter((p) => !FIELDS.includes(/** @type {keyof Settings} */ (p.field)));
    showMessage(this.#error, other.length ? other.map((p) => `${p.key} ${p.message}`).join(" ") : null);
  }

  /** @returns {void} */
  #scheduleValidate() {
    clearTimeout(this.#validateTimer);
    this.#validateTimer = setTimeout(() => void this.#validate(), VALIDATE_DELAY_MS);
  }

  /**
   * Checks the form as it is now with the engine and marks the fields.
   * @returns {Promise<void>}
   */
  async #validate() {
    const seq = ++this.#validateSeq;
    const { settings, problems } = this.#read();
    if (!settings) {
      this.#markFields(problems);
      return;
    }
    const reply = await this.#send({ cmd: "validate_settings", settings }, this.#error);
    if (!reply || seq !== this.#validateSeq) return;
    this.#markFields(reply.kind === "invalid" ? reply.fields : []);
  }

  /**
   * The chosen catalog models that are not installed.
   * @returns {ModelView[]}
   */
  #missingChoices() {
    const chosen = [this.#select("llm_model").value, this.#select("tts_voice").value];
    return this.#catalog.filter((m) => !m.installed && chosen.includes(m.id));
  }

  /**
   * An uninstalled model choice says so beside its select and turns Save into
   * "Download and switch".
   * @returns {void}
   */
  #showModelChoice() {
    const missing = this.#missingChoices();
    for (const field of /** @type {const} */ (["llm_model", "tts_voice"])) {
      const m = missing.find((x) => x.id === this.#select(field).value);
      const id = `set-${field}-note`;
      let note = document.getElementById(id);
      if (!note && m) {
        note = el("span", { class: "message field-note", attrs: { id, "data-kind": "info" } });
        this.#select(field).after(note);
      }
      if (note) {
        showMessage(note, m ? `Not installed (${formatBytes(m.size_bytes)}): "Download and switch" fetches it, then loads it in place of the current model.` : null, "info");
      }
    }
    this.#saveButton.textContent = missing.length ? "Download and switch" : "Save";
    this.#saveButton.dataset.action = missing.length ? "switch" : "save";
  }

  /**
   * The form as Settings, or the fields that are not numbers.
   * @returns {{ settings: Settings | null, problems: FieldProblem[] }}
   */
  #read() {
    /** @type {FieldProblem[]} */
    const problems = [];
    /**
     * @param {keyof Settings} field
     * @param {boolean} [integer]
     * @returns {number}
     */
    const number = (field, integer = false) => {
      const v = this.#input(field).valueAsNumber;
      const key = this.#input(field).dataset.limit ?? field;
      if (!Number.isFinite(v)) problems.push({ field, key, message: "must be a number" });
      else if (integer && !Number.isInteger(v)) problems.push({ field, key, message: "must be a whole number" });
      return v;
    };
    /** @type {Settings} */
    const settings = {
      llm_model: this.#select("llm_model").value,
      max_tokens: number("max_tokens", true),
      mode: /** @type {Mode} */ (this.#select("mode").value),
      natural_s: number("natural_s"),
      acceptable_s: number("acceptable_s"),
      unusable_s: number("unusable_s"),
      cloud_provider: /** @type {CloudProvider} */ (this.#select("cloud_provider").value),
      cloud_base_url: this.#input("cloud_base_url").value.trim(),
      cloud_model: this.#input("cloud_model").value.trim(),
      tts_engine: /** @type {TtsEngine} */ (this.#select("tts_engine").value),
      tts_voice: this.#select("tts_voice").value,
      input_device: this.#select("input_device").value,
      output_device: this.#select("output_device").value,
      global_shortcut: this.#input("global_shortcut").value.trim(),
    };
    return { settings: problems.length ? null : settings, problems };
  }

  /**
   * Marks the refused fields, says so, and moves focus to the first.
   * @param {FieldProblem[]} problems
   * @returns {void}
   */
  #refuse(problems) {
    this.#markFields(problems);
    const n = problems.length;
    showMessage(this.#result, `Not saved: ${n === 1 ? "a field needs" : `${n} fields need`} changing (marked).`);
    const first = problems.find((p) => FIELDS.includes(/** @type {keyof Settings} */ (p.field)));
    if (first) document.getElementById(`set-${first.field}`)?.focus();
  }

  /** @returns {Promise<void>} */
  async #save() {
    clearTimeout(this.#validateTimer);
    this.#validateSeq++;
    showMessage(this.#result, null);
    const { settings, problems } = this.#read();
    if (!settings) {
      this.#refuse(problems);
      return;
    }
    if (this.#saveButton.dataset.action === "switch") {
      const reply = await this.#send({ cmd: "switch_models", settings }, this.#error);
      if (!reply) return;
      if (reply.kind === "invalid") {
        this.#refuse(reply.fields);
        return;
      }
      this.#markFields([]);
      this.#dirty = false;
      return; // progress and the outcome arrive as `switch` events
    }
    const reply = await this.#send({ cmd: "set_settings", settings }, this.#error);
    if (!reply) return;
    if (reply.kind === "invalid") {
      this.#refuse(reply.fields);
      return;
    }
    const saved = replyOf(reply, "saved");
    if (!saved) return;
    this.#markFields([]);
    this.#dirty = false;
    showMessage(this.#result, saved.path ? `Saved to ${saved.path}` : "Saved.", "info");
    this.#reload.hidden = !saved.reload;
  }

  /** @returns {Promise<void>} */
  async #reloadModels() {
    if (!(await this.#send({ cmd: "reload_models" }, this.#error))) return;
    this.#reload.hidden = true;
    // Replaced by the switch's own events from now on.
    if (this.#switch.state !== "working") showMessage(this.#result, "Switching models…", "info");
  }

  /**
   * A `switch` event (or the status's last one): its message replaces the one before.
   * @param {SwitchStatus} s
   * @returns {void}
   */
  switchStatus(s) {
    this.#switch = s;
    const working = s.state === "working";
    this.#saveButton.disabled = working;
    this.#reloadButton.disabled = working;
    switch (s.state) {
      case "idle":
        return;
      case "working":
        this.#reload.hidden = true;
        showMessage(this.#error, null);
        showMessage(this.#result, `Switching models: ${s.step}…`, "info");
        return;
      case "switched":
        showMessage(this.#result, s.message, "info");
        break;
      case "refused":
      case "failed":
        showMessage(this.#result, s.message, "error");
        break;
    }
    // The saved settings now name the models that run (restored after a refusal).
    if (this.#loaded && !this.#dirty) void this.#load(false);
  }

  /**
   * @param {ModelView[]} models
   * @returns {void}
   */
  #renderModels(models) {
    this.#models.replaceChildren(
      ...models.map((m) => {
        // A `.message`, so a failure shows red (data-kind="error").
        const status = el("span", { class: "model-status message" });
        const progress = el("progress", { class: "model-progress" });
        progress.hidden = true;
        const action = m.installed
          ? el("span", { class: "model-installed", text: "✓ installed" })
          : el("button", { class: "model-fetch", text: "Download", attrs: { type: "button" } });
        if (action instanceof HTMLButtonElement) {
          action.addEventListener("click", () => void this.#fetch(m.id, action, status));
        }
        const item = el(
          "li",
          { class: "model", attrs: { "data-model-id": m.id, "data-kind": m.kind, "data-installed": String(m.installed) } },
          el("span", { class: "model-name", text: m.name }),
          el("span", { class: "model-kind", text: m.kind }),
          el("span", { class: "model-size", text: formatBytes(m.size_bytes) }),
          action,
          progress,
          status,
        );
        return item;
      }),
    );
    for (const s of this.#downloads.values()) this.download(s);
  }

  /**
   * @param {string} id
   * @param {HTMLButtonElement} button
   * @param {HTMLElement} status
   * @returns {Promise<void>}
   */
  async #fetch(id, button, status) {
    button.disabled = true;
    const reply = await this.#send({ cmd: "fetch_model", id }, status);
    if (!reply) {
      button.disabled = false;
      return;
    }
    showMessage(status, "starting download…", "info");
  }

  /**
   * A `download` event: progress bar, phase in words, and the list refreshed when done.
   * @param {DownloadStatus} s
   * @returns {void}
   */
  download(s) {
    this.#downloads.set(s.id, s);
    const sw = this.#switch;
    if (sw.state === "working" && sw.step.startsWith("downloading") && s.phase !== "failed") {
      showMessage(this.#result, `Switching models: ${sw.step}: ${downloadText(s)}`, "info");
    }
    const item = this.#models.querySelector(`li[data-model-id="${CSS.escape(s.id)}"]`);
    if (!(item instanceof HTMLElement)) return; // list not drawn yet: shown when it is
    const progress = item.querySelector(".model-progress");
    const status = item.querySelector(".model-status");
    const button = item.querySelector(".model-fetch");
    if (!(progress instanceof HTMLProgressElement) || !(status instanceof HTMLElement)) return;
    const active = s.phase === "downloading" || s.phase === "verifying";
    progress.hidden = !active;
    if (s.total_bytes > 0) {
      progress.max = s.total_bytes;
      progress.value = s.done_bytes;
    } else {
      progress.removeAttribute("value"); // size unknown: indeterminate
    }
    item.dataset.phase = s.phase;
    showMessage(status, downloadText(s), s.phase === "failed" ? "error" : "info");
    if (button instanceof HTMLButtonElement) button.disabled = active || s.phase === "done";
    if (s.phase === "done") {
      this.#downloads.delete(s.id);
      item.dataset.installed = "true";
      button?.replaceWith(el("span", { class: "model-installed", text: "✓ installed" }));
      // New choices for the model selects, without touching pending edits.
      if (this.#loaded) void this.#load(true);
    }
  }
}
