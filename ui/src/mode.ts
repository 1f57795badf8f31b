// The answering-mode toggle (Local Llama / Cloud Qwen / Auto) and what is known of the
// cloud. The pressed button follows the engine (`mode` events, replies), not the click.

import type { CloudStatus } from "./bindings/CloudStatus.js";
import type { Mode } from "./bindings/Mode.js";
import { byId, showMessage } from "./dom.js";
import { replyOf, type Send } from "./transport.js";

const MODES: Mode[] = ["local", "cloud", "auto"];

export function cloudText(cloud: CloudStatus): string {
  const key = cloud.key_set ? "key set" : "key not set";
  const reachable = cloud.reachable === null ? "unknown" : cloud.reachable ? "yes" : "no";
  const where = [cloud.provider, cloud.model].filter((s) => s).join(" · ");
  const detail = cloud.detail ? ` — ${cloud.detail}` : "";
  return `Cloud (${where}): ${key} · reachable: ${reachable}${detail}`;
}

export class ModeView {
  private readonly buttons = new Map<Mode, HTMLButtonElement>(
    MODES.map((m) => [m, byId<HTMLButtonElement>(`mode-${m}`)]),
  );
  private readonly cloud = byId("cloud-status");
  private readonly check = byId<HTMLButtonElement>("cloud-check");
  private readonly error = byId("mode-error");

  constructor(private readonly send: Send) {
    for (const [mode, button] of this.buttons) {
      button.addEventListener("click", () => void this.choose(mode));
    }
    this.check.addEventListener("click", () => void this.checkCloud());
  }

  private async choose(mode: Mode): Promise<void> {
    const reply = await this.send({ cmd: "set_mode", mode }, this.error);
    if (!reply) return;
    showMessage(this.error, null);
    // The `mode` event follows too; the reply alone is enough to show the choice took.
    this.setMode(mode);
    if (reply.kind === "cloud") this.setCloud(reply.cloud);
  }

  private async checkCloud(): Promise<void> {
    this.check.disabled = true;
    this.cloud.dataset.checking = "true"; // styles.css adds "checking…"
    const reply = await this.send({ cmd: "check_cloud" }, this.error);
    this.check.disabled = false;
    delete this.cloud.dataset.checking;
    const cloud = replyOf(reply, "cloud");
    if (cloud) {
      showMessage(this.error, null);
      this.setCloud(cloud.cloud);
    }
  }

  setMode(mode: Mode): void {
    for (const [m, button] of this.buttons) button.setAttribute("aria-pressed", String(m === mode));
  }

  setCloud(cloud: CloudStatus): void {
    this.cloud.textContent = cloudText(cloud);
    this.cloud.dataset.keySet = String(cloud.key_set);
    this.cloud.dataset.reachable = cloud.reachable === null ? "unknown" : String(cloud.reachable);
  }
}
