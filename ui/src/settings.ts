// The Settings tab: the settings form (get_settings / set_settings), the write-only cloud
// API key, and the model catalog with downloads. The form is loaded when the tab opens and
// is not overwritten while the user has unsaved edits.

import type { CloudProvider } from "./bindings/CloudProvider.js";
import type { CloudStatus } from "./bindings/CloudStatus.js";
import type { DownloadStatus } from "./bindings/DownloadStatus.js";
import type { Mode } from "./bindings/Mode.js";
import type { ModelView } from "./bindings/ModelView.js";
import type { Settings } from "./bindings/Settings.js";
import type { SettingsView as View } from "./bindings/SettingsView.js";
import type { TtsEngine } from "./bindings/TtsEngine.js";
import { byId, el, formatBytes, showMessage } from "./dom.js";
import { readNumber } from "./limits.js";
import { replyOf, type Send } from "./transport.js";

type Option = [value: string, label: string];

/** Fills a select, keeping `current` selectable even when it is not among the choices. */
function fillSelect(select: HTMLSelectElement, options: Option[], current: string): void {
  const all = options.some(([v]) => v === current) ? options : [...options, [current, current] as Option];
  select.replaceChildren(...all.map(([value, label]) => el("option", { text: label, attrs: { value } })));
  select.value = current;
}

function modelOptions(models: ModelView[], kind: string, none: string): Option[] {
  return [
    ["", none],
    ...models
      .filter((m) => m.kind === kind)
      .map((m): Option => [m.id, m.installed ? m.name : `${m.name} (not installed)`]),
  ];
}

function deviceOptions(devices: string[]): Option[] {
  return [["", "system default"], ...devices.map((d): Option => [d, d])];
}

function downloadText(s: DownloadStatus): string {
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
  private readonly form = byId<HTMLFormElement>("settings-form");
  private readonly error = byId("settings-error");
  private readonly result = byId("settings-result");
  private readonly reload = byId("settings-reload");
  private readonly configPath = byId("settings-path");
  private readonly deviceError = byId("device-error");
  private readonly keyForm = byId<HTMLFormElement>("cloud-key-form");
  private readonly key = byId<HTMLInputElement>("cloud-key");
  private readonly keyState = byId("cloud-key-state");
  private readonly keyResult = byId("cloud-key-result");
  private readonly models = byId("models");
  private readonly select = (id: string): HTMLSelectElement => byId<HTMLSelectElement>(`set-${id}`);
  private readonly input = (id: string): HTMLInputElement => byId<HTMLInputElement>(`set-${id}`);

  private loaded = false;
  private dirty = false;
  /** Latest download state per model id, so a list drawn later still shows it. */
  private readonly downloads = new Map<string, DownloadStatus>();

  constructor(
    private readonly send: Send,
    private readonly onCloud: (cloud: CloudStatus) => void,
  ) {
    this.form.addEventListener("input", () => (this.dirty = true));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.save();
    });
    byId("settings-reload-models").addEventListener("click", () => void this.reloadModels());
    this.keyForm.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.storeKey();
    });
    byId("cloud-key-forget").addEventListener("click", () => void this.forgetKey());
  }

  /** The tab was opened: load the settings unless the user is editing them. */
  open(): void {
    if (!this.loaded || !this.dirty) void this.load(false);
  }

  /** Reconnected: what we show may be stale; reload on next open (now if visible). */
  invalidate(visible: boolean): void {
    this.loaded = false;
    if (visible) this.open();
  }

  private async load(keepForm: boolean): Promise<void> {
    const reply = replyOf(await this.send({ cmd: "get_settings" }, this.error), "settings");
    if (!reply) return;
    showMessage(this.error, null);
    this.render(reply.view, keepForm);
    this.loaded = true;
  }

  private render(view: View, keepForm: boolean): void {
    const s = view.settings;
    // Selects are refilled (new models, devices) but keep the user's pending choice.
    const pick = (id: keyof Settings, fallback: string): string => (keepForm ? this.select(id).value : fallback);
    fillSelect(this.select("llm_model"), modelOptions(view.models, "llm", "best installed"), pick("llm_model", s.llm_model));
    fillSelect(this.select("tts_voice"), modelOptions(view.models, "tts", "best installed"), pick("tts_voice", s.tts_voice));
    fillSelect(this.select("input_device"), deviceOptions(view.input_devices), pick("input_device", s.input_device));
    fillSelect(this.select("output_device"), deviceOptions(view.output_devices), pick("output_device", s.output_device));
    showMessage(this.deviceError, view.device_error ? `Audio devices could not be listed: ${view.device_error}` : null);
    this.configPath.textContent = view.config_path ? `Config file: ${view.config_path}` : "No config file yet (saving creates one).";

    if (!keepForm) {
      this.select("mode").value = s.mode;
      this.select("cloud_provider").value = s.cloud_provider;
      this.select("tts_engine").value = s.tts_engine;
      this.input("max_tokens").value = String(s.max_tokens);
      this.input("natural_s").value = String(s.natural_s);
      this.input("acceptable_s").value = String(s.acceptable_s);
      this.input("unusable_s").value = String(s.unusable_s);
      this.input("cloud_base_url").value = s.cloud_base_url;
      this.input("cloud_model").value = s.cloud_model;
      this.input("global_shortcut").value = s.global_shortcut;
      this.dirty = false;
    }
    this.showCloud(view.cloud);
    this.renderModels(view.models);
  }

  /** The form as Settings, or a sentence saying which field is wrong. */
  private read(): Settings | string {
    const number = (id: string, label: string, integer = false) => readNumber(this.input(id), label, integer);
    const maxTokens = number("max_tokens", "Max tokens", true);
    const natural = number("natural_s", "Natural (s)");
    const acceptable = number("acceptable_s", "Acceptable (s)");
    const unusable = number("unusable_s", "Unusable (s)");
    for (const v of [maxTokens, natural, acceptable, unusable]) if (typeof v === "string") return v;
    return {
      llm_model: this.select("llm_model").value,
      max_tokens: maxTokens as number,
      mode: this.select("mode").value as Mode,
      natural_s: natural as number,
      acceptable_s: acceptable as number,
      unusable_s: unusable as number,
      cloud_provider: this.select("cloud_provider").value as CloudProvider,
      cloud_base_url: this.input("cloud_base_url").value.trim(),
      cloud_model: this.input("cloud_model").value.trim(),
      tts_engine: this.select("tts_engine").value as TtsEngine,
      tts_voice: this.select("tts_voice").value,
      input_device: this.select("input_device").value,
      output_device: this.select("output_device").value,
      global_shortcut: this.input("global_shortcut").value.trim(),
    };
  }

  private async save(): Promise<void> {
    showMessage(this.result, null);
    const settings = this.read();
    if (typeof settings === "string") {
      showMessage(this.error, settings);
      return;
    }
    const saved = replyOf(await this.send({ cmd: "set_settings", settings }, this.error), "saved");
    if (!saved) return;
    showMessage(this.error, null);
    this.dirty = false;
    showMessage(this.result, saved.path ? `Saved to ${saved.path}` : "Saved.", "info");
    this.reload.hidden = !saved.reload;
  }

  private async reloadModels(): Promise<void> {
    if (!(await this.send({ cmd: "unload_models" }, this.error))) return;
    if (!(await this.send({ cmd: "load_models" }, this.error))) return;
    this.reload.hidden = true;
    showMessage(this.result, "Reloading models…", "info");
  }

  private async storeKey(): Promise<void> {
    const key = this.key.value.trim();
    // Never kept in the page longer than the request.
    this.key.value = "";
    if (!key) {
      showMessage(this.keyResult, "Type a key first.");
      return;
    }
    const reply = await this.send({ cmd: "set_cloud_key", key }, this.keyResult);
    if (!reply) return;
    showMessage(this.keyResult, "Key stored in the system keyring.", "info");
    if (reply.kind === "cloud") this.showCloud(reply.cloud);
  }

  private async forgetKey(): Promise<void> {
    const reply = await this.send({ cmd: "forget_cloud_key" }, this.keyResult);
    if (!reply) return;
    showMessage(this.keyResult, "Key forgotten.", "info");
    if (reply.kind === "cloud") this.showCloud(reply.cloud);
  }

  /** Also called for `mode` events, which carry the cloud status. */
  showCloud(cloud: CloudStatus): void {
    this.keyState.textContent = cloud.key_set ? "A key is stored." : "No key stored.";
    this.keyState.dataset.keySet = String(cloud.key_set);
    this.onCloud(cloud);
  }

  private renderModels(models: ModelView[]): void {
    this.models.replaceChildren(
      ...models.map((m) => {
        const status = el("span", { class: "model-status" });
        const progress = el("progress", { class: "model-progress" });
        progress.hidden = true;
        const action = m.installed
          ? el("span", { class: "model-installed", text: "✓ installed" })
          : el("button", { class: "model-fetch", text: "Download", attrs: { type: "button" } });
        if (action instanceof HTMLButtonElement) {
          action.addEventListener("click", () => void this.fetch(m.id, action, status));
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
    for (const s of this.downloads.values()) this.download(s);
  }

  private async fetch(id: string, button: HTMLButtonElement, status: HTMLElement): Promise<void> {
    button.disabled = true;
    const reply = await this.send({ cmd: "fetch_model", id }, status);
    if (!reply) {
      button.disabled = false;
      return;
    }
    showMessage(status, "starting download…", "info");
  }

  /** A `download` event: progress bar, phase in words, and the list refreshed when done. */
  download(s: DownloadStatus): void {
    this.downloads.set(s.id, s);
    const item = this.models.querySelector<HTMLElement>(`li[data-model-id="${CSS.escape(s.id)}"]`);
    if (!item) return; // list not drawn yet: shown when it is
    const progress = item.querySelector<HTMLProgressElement>(".model-progress")!;
    const status = item.querySelector<HTMLElement>(".model-status")!;
    const button = item.querySelector<HTMLButtonElement>(".model-fetch");
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
    if (button) button.disabled = active || s.phase === "done";
    if (s.phase === "done") {
      this.downloads.delete(s.id);
      item.dataset.installed = "true";
      button?.replaceWith(el("span", { class: "model-installed", text: "✓ installed" }));
      // New choices for the model selects, without touching pending edits.
      if (this.loaded) void this.load(true);
    }
  }
}
