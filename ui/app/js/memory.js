// @ts-check
// The Memory tab: what the assistant remembers, newest first, each fact editable in place and
// deletable; a field to add one (checked by the engine as "remember that ..." is); and
// "Forget all", which asks the engine as "forget everything" by voice does: its confirmation
// comes back as the banner (ConfirmBanner) on every front end. The engine's `facts` events
// redraw the list, so every front end shows the same facts.

import { byId, el, showMessage } from "./dom.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/Fact").Fact} Fact */
/** @typedef {import("../../bindings/ToolsView").ToolsView} ToolsView */
/** @typedef {import("../../bindings/Command").Command} Command */
/** @typedef {import("./transport.js").Send} Send */

/**
 * "7 Dec, 09:12" for a fact's date.
 * @param {number} unixMs
 * @returns {string}
 */
function when(unixMs) {
  return new Date(unixMs).toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/**
 * Focuses the control with this `data-focus-key` in `root`, if there is one.
 * @param {HTMLElement} root
 * @param {string} key
 * @returns {void}
 */
function focusKey(root, key) {
  const found = root.querySelector(`[data-focus-key="${key}"]`);
  if (found instanceof HTMLElement) found.focus();
}

export class MemoryPanel {
  /** @readonly */ #list = byId("facts");
  /** @readonly */ #empty = byId("facts-empty");
  /** @readonly */ #count = byId("facts-count");
  /** @readonly */ #state = byId("memory-state");
  /** @readonly */ #error = byId("facts-error");
  /** @readonly */ #form = byId("fact-add-form", HTMLFormElement);
  /** @readonly */ #input = byId("fact-new", HTMLInputElement);
  /** @readonly */ #add = byId("fact-add", HTMLButtonElement);
  /** @readonly */ #forget = byId("forget-all", HTMLButtonElement);
  /** @readonly @type {Send} */
  #send;
  /** @readonly @type {() => void} */
  #onAsked;
  /** @type {Fact[]} */
  #facts = [];
  /** The fact being edited, kept across a redraw. @type {number | null} */
  #editing = null;
  #available = false;

  /**
   * @param {Send} send
   * @param {() => void} onAsked the engine asked to confirm forget-all (the banner takes the keyboard)
   */
  constructor(send, onAsked) {
    this.#send = send;
    this.#onAsked = onAsked;
    this.#form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.#addFact();
    });
    // The engine asks for the confirmation: the banner shows it (here and on every front end).
    this.#forget.addEventListener("click", async () => {
      if (await this.#run({ cmd: "forget_all" }, this.#forget)) this.#onAsked();
      else this.#forget.focus();
    });
  }

  /**
   * The whole state (status, a reply).
   * @param {ToolsView} tools
   * @returns {void}
   */
  apply(tools) {
    this.#available = tools.available;
    showMessage(this.#state, tools.available ? null : `Memory is not available: ${tools.reason}`, "info");
    this.render(tools.facts);
  }

  /**
   * The facts, as the engine sent them (newest first).
   * @param {Fact[]} facts
   * @returns {void}
   */
  render(facts) {
    this.#facts = [...facts].sort((a, b) => b.created_unix_ms - a.created_unix_ms || b.id - a.id);
    if (this.#editing !== null && !this.#facts.some((f) => f.id === this.#editing)) this.#editing = null;
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.focusKey : undefined;
    this.#list.replaceChildren(...this.#facts.map((f) => this.#item(f)));
    this.#empty.hidden = this.#facts.length > 0;
    this.#count.textContent = this.#facts.length === 1 ? "1 fact" : `${this.#facts.length} facts`;
    this.#forget.disabled = this.#facts.length === 0 || !this.#available;
    this.#add.disabled = !this.#available;
    this.#input.disabled = !this.#available;
    // A redraw must not lose the keyboard's place.
    if (focused) focusKey(this.#list, focused);
  }

  /**
   * @param {Fact} f
   * @returns {HTMLElement}
   */
  #item(f) {
    const li = el("li", { class: "fact-item", attrs: { "data-fact-id": String(f.id) } });
    const edited = f.updated_unix_ms > f.created_unix_ms ? `, edited ${when(f.updated_unix_ms)}` : "";
    if (this.#editing === f.id) {
      const form = el("form", { class: "fact-edit-form" });
      const input = el("input", {
        class: "fact-input",
        attrs: { type: "text", maxlength: "500", "aria-label": "Fact", value: f.text, "data-focus-key": `input-${f.id}` },
      });
      const save = el("button", { class: "fact-save", text: "Save", attrs: { type: "submit" } });
      const cancel = el("button", { class: "fact-cancel", text: "Cancel", attrs: { type: "button" } });
      form.append(input, save, cancel);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        void this.#save(f.id, input.value, save);
      });
      input.addEventListener("keydown", (e) => {
        if (e.key === "Escape") this.#stopEditing(f.id);
      });
      cancel.addEventListener("click", () => this.#stopEditing(f.id));
      li.append(form);
      queueMicrotask(() => {
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      });
      return li;
    }
    const edit = el("button", {
      class: "fact-edit",
      text: "Edit",
      attrs: { type: "button", "aria-label": `Edit: ${f.text}`, "data-focus-key": `edit-${f.id}` },
    });
    const del = el("button", {
      class: "fact-delete",
      text: "Delete",
      attrs: { type: "button", "aria-label": `Delete: ${f.text}`, "data-focus-key": `delete-${f.id}` },
    });
    edit.addEventListener("click", () => {
      this.#editing = f.id;
      this.render(this.#facts);
    });
    del.addEventListener("click", () => void this.#run({ cmd: "delete_fact", id: f.id }, del));
    li.append(
      el("p", { class: "fact-text", text: f.text }),
      el("span", { class: "fact-when", text: `${when(f.created_unix_ms)}${edited}` }),
      el("span", { class: "fact-actions" }, edit, del),
    );
    return li;
  }

  /**
   * @param {number} id
   * @returns {void}
   */
  #stopEditing(id) {
    this.#editing = null;
    this.render(this.#facts);
    focusKey(this.#list, `edit-${id}`);
  }

  /**
   * @param {number} id
   * @param {string} text
   * @param {HTMLButtonElement} button
   * @returns {Promise<void>}
   */
  async #save(id, text, button) {
    if (await this.#run({ cmd: "edit_fact", id, text: text.trim() }, button)) this.#stopEditing(id);
  }

  /** @returns {Promise<void>} */
  async #addFact() {
    const text = this.#input.value.trim();
    if (!text) {
      showMessage(this.#error, "Type the fact to remember first.");
      this.#input.focus();
      return;
    }
    if (await this.#run({ cmd: "add_fact", text }, this.#add)) {
      this.#input.value = "";
      this.#input.focus();
    }
  }

  /**
   * Sends a fact command; the reply's facts redraw the list. Whether it was carried out.
   * @param {Command} command
   * @param {HTMLButtonElement} button
   * @returns {Promise<boolean>}
   */
  async #run(command, button) {
    button.disabled = true;
    showMessage(this.#error, null);
    const reply = replyOf(await this.#send(command, this.#error), "tools");
    button.disabled = false;
    if (!reply) return false;
    this.apply(reply.tools);
    return true;
  }
}

/**
 * The banner the assistant's "forget all" by voice raises: confirm or keep, with the time left
 * to answer (one interval while it is up). Shown over every tab.
 */
export class ConfirmBanner {
  /** @readonly */ #box = byId("confirm-banner");
  /** @readonly */ #prompt = byId("confirm-prompt");
  /** @readonly */ #left = byId("confirm-left");
  /** @readonly */ #error = byId("confirm-error");
  /** @readonly */ #yes = byId("confirm-yes", HTMLButtonElement);
  /** @readonly */ #no = byId("confirm-no", HTMLButtonElement);
  /** @readonly @type {Send} */
  #send;
  /** @readonly @type {(tools: ToolsView) => void} */
  #onTools;
  #action = "";
  #expires = 0;
  /** The next question asked takes the keyboard (asked from the Memory tab's button). */
  #focusNext = false;
  /** @type {number | null} */
  #tick = null;

  /**
   * @param {Send} send
   * @param {(tools: ToolsView) => void} onTools what a reply's state updates
   */
  constructor(send, onTools) {
    this.#send = send;
    this.#onTools = onTools;
    this.#yes.addEventListener("click", () => void this.#answer({ cmd: "confirm", action: this.#action }));
    this.#no.addEventListener("click", () => void this.#answer({ cmd: "decline" }));
  }

  /**
   * Asked (the `confirm_asked` event, or `status` with one pending); null: nothing pending.
   * @param {{ action: string, prompt: string, expires_unix_ms: number } | null} asked
   * @returns {void}
   */
  show(asked) {
    if (!asked || (asked.expires_unix_ms > 0 && asked.expires_unix_ms <= Date.now())) {
      this.#hide();
      return;
    }
    this.#action = asked.action;
    this.#expires = asked.expires_unix_ms;
    this.#prompt.textContent = asked.prompt || "Forget everything I remember?";
    this.#yes.textContent = asked.action === "forget_all" ? "Forget all" : "Confirm";
    this.#box.dataset.action = asked.action;
    showMessage(this.#error, null);
    const fresh = this.#box.hidden;
    this.#box.hidden = false;
    if (fresh && this.#focusNext) this.#no.focus();
    this.#focusNext = false;
    this.#update();
    if (this.#tick === null && this.#expires > 0) this.#tick = window.setInterval(() => this.#update(), 1000);
  }

  /**
   * Asked from the Memory tab's button: the keyboard goes on to the answer, "Keep" first (the
   * question may come before or after the button's reply).
   * @returns {void}
   */
  expectAnswer() {
    if (this.#box.hidden) this.#focusNext = true;
    else this.#no.focus();
  }

  /**
   * Facts changed: an empty list means forget-all went through (by voice, or another panel).
   * @param {number} count
   * @returns {void}
   */
  factsChanged(count) {
    if (count === 0 && this.#action === "forget_all") this.#hide();
  }

  /** @returns {void} */
  #update() {
    if (this.#expires <= 0) {
      this.#left.textContent = "";
      return;
    }
    const s = Math.ceil((this.#expires - Date.now()) / 1000);
    if (s <= 0) {
      this.#hide();
      return;
    }
    this.#left.textContent = `${s} s to answer`;
    this.#left.dataset.leftS = String(s);
  }

  /** @returns {void} */
  #hide() {
    // The focus goes back to where the question came from, not to the page's start.
    const hadFocus = this.#box.contains(document.activeElement);
    this.#box.hidden = true;
    const forget = byId("forget-all");
    if (hadFocus && forget.offsetParent !== null) forget.focus();
    this.#action = "";
    if (this.#tick !== null) window.clearInterval(this.#tick);
    this.#tick = null;
  }

  /**
   * @param {Command} command
   * @returns {Promise<void>}
   */
  async #answer(command) {
    this.#yes.disabled = true;
    this.#no.disabled = true;
    const reply = replyOf(await this.#send(command, this.#error), "tools");
    this.#yes.disabled = false;
    this.#no.disabled = false;
    if (!reply) return;
    this.#hide();
    this.#onTools(reply.tools);
    // The answered buttons were disabled (focus lost): back to where the question came from.
    const forget = byId("forget-all");
    if (forget.offsetParent !== null && !(/** @type {HTMLButtonElement} */ (forget).disabled)) forget.focus();
  }
}
