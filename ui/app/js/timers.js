// @ts-check
// The timers widget beside the talk button: each timer with its label, a countdown and a
// cancel button; those that rang or were missed stay a while, marked done. The countdown is
// drawn here from `due_unix_ms`, with one interval timer that runs only while a timer does
// (nothing runs while idle). A timer that is due also shows a notice until dismissed.

import { byId, el, showMessage } from "./dom.js";
import { replyOf } from "./transport.js";

/** @typedef {import("../../bindings/TimerView").TimerView} TimerView */
/** @typedef {import("../../bindings/ToolsView").ToolsView} ToolsView */
/** @typedef {import("./transport.js").Send} Send */

/** How long a timer that rang or was missed stays in the widget. */
const DONE_KEEP_MS = 5 * 60 * 1000;

/**
 * 605_000 → "10:05", 3_725_000 → "1:02:05"; never negative.
 * @param {number} ms
 * @returns {string}
 */
export function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

/**
 * "tea", or "Timer" when it has no label.
 * @param {TimerView} t
 * @returns {string}
 */
function nameOf(t) {
  return t.label || "Timer";
}

export class TimersWidget {
  /** @readonly */ #box = byId("timers");
  /** @readonly */ #list = byId("timers-list");
  /** @readonly */ #error = byId("timers-error");
  /** @readonly */ #notice = byId("timer-notice");
  /** @readonly */ #noticeText = byId("timer-notice-text");
  /** @readonly @type {Send} */
  #send;
  /** @type {TimerView[]} */
  #timers = [];
  /** The countdown's one interval, only while a timer runs. @type {number | null} */
  #tick = null;
  /** When the next done timer leaves the list. @type {number | null} */
  #sweep = null;

  /** @param {Send} send */
  constructor(send) {
    this.#send = send;
    byId("timer-notice-dismiss").addEventListener("click", () => {
      this.#notice.hidden = true;
      this.#draw();
    });
  }

  /**
   * Every timer, as the engine sent them (the `timers` event, `status`, a reply).
   * @param {TimerView[]} timers
   * @returns {void}
   */
  render(timers) {
    this.#timers = timers;
    this.#draw();
  }

  /**
   * A timer is due (or was missed while voxdeck was off): the notice, and the list.
   * @param {TimerView} timer
   * @param {string} spoken what the assistant says of it
   * @returns {void}
   */
  due(timer, spoken) {
    const missed = timer.state === "missed";
    this.#noticeText.textContent =
      spoken ||
      (missed
        ? `${nameOf(timer)} (${this.#clock(timer.due_unix_ms)}) went off while voxdeck was not running.`
        : `${nameOf(timer)} is done.`);
    this.#notice.dataset.state = timer.state;
    this.#notice.hidden = false;
    const others = this.#timers.filter((t) => t.id !== timer.id);
    this.render([...others, timer]);
  }

  /** @returns {void} */
  #draw() {
    const now = Date.now();
    const shown = this.#timers
      .filter((t) => t.state !== "cancelled")
      .filter((t) => t.state === "running" || now - t.due_unix_ms < DONE_KEEP_MS)
      .sort((a, b) => a.due_unix_ms - b.due_unix_ms);
    this.#list.replaceChildren(...shown.map((t) => this.#item(t, now)));
    this.#box.hidden = shown.length === 0 && this.#notice.hidden;
    this.#box.dataset.count = String(shown.length);
    const running = shown.some((t) => t.state === "running");
    if (running && this.#tick === null) this.#tick = window.setInterval(() => this.#update(), 1000);
    if (!running && this.#tick !== null) {
      window.clearInterval(this.#tick);
      this.#tick = null;
    }
    // One timeout for the next done timer to leave, not a poll.
    if (this.#sweep !== null) window.clearTimeout(this.#sweep);
    this.#sweep = null;
    const done = shown.filter((t) => t.state !== "running").map((t) => t.due_unix_ms + DONE_KEEP_MS - now);
    if (done.length > 0) this.#sweep = window.setTimeout(() => this.#draw(), Math.max(1000, Math.min(...done)));
  }

  /**
   * @param {TimerView} t
   * @param {number} now
   * @returns {HTMLElement}
   */
  #item(t, now) {
    const running = t.state === "running";
    const left = el("span", { class: "timer-left", attrs: { "data-due": String(t.due_unix_ms) } });
    this.#setLeft(left, t, now);
    const li = el(
      "li",
      { class: "timer", attrs: { "data-timer-id": String(t.id), "data-state": t.state } },
      el("span", { class: "timer-label", text: nameOf(t) }),
      left,
    );
    if (running) {
      const cancel = el("button", {
        class: "timer-cancel",
        text: "Cancel",
        attrs: { type: "button", "aria-label": `Cancel ${nameOf(t)}, due at ${this.#clock(t.due_unix_ms)}` },
      });
      cancel.addEventListener("click", () => void this.#cancel(t.id, cancel));
      li.append(cancel);
    }
    return li;
  }

  /**
   * @param {HTMLElement} left
   * @param {TimerView} t
   * @param {number} now
   * @returns {void}
   */
  #setLeft(left, t, now) {
    if (t.state === "running") {
      const ms = t.due_unix_ms - now;
      left.textContent = countdown(ms);
      left.dataset.leftS = String(Math.max(0, Math.ceil(ms / 1000)));
      left.setAttribute("aria-label", `${countdown(ms)} left, due at ${this.#clock(t.due_unix_ms)}`);
    } else {
      left.textContent = t.state === "missed" ? "missed" : "done";
      left.dataset.leftS = "0";
      left.removeAttribute("aria-label");
    }
  }

  /**
   * Once a second while a timer runs: the countdowns only, not the list (focus stays put).
   * @returns {void}
   */
  #update() {
    const now = Date.now();
    for (const t of this.#timers) {
      const left = this.#list.querySelector(`li[data-timer-id="${t.id}"] .timer-left`);
      if (left instanceof HTMLElement) this.#setLeft(left, t, now);
    }
  }

  /**
   * @param {number} id
   * @param {HTMLButtonElement} button
   * @returns {Promise<void>}
   */
  async #cancel(id, button) {
    button.disabled = true;
    showMessage(this.#error, null);
    const reply = replyOf(await this.#send({ cmd: "cancel_timer", id }, this.#error), "tools");
    if (reply) this.render(reply.tools.timers);
    else button.disabled = false;
  }

  /**
   * 17:30, in the local time zone.
   * @param {number} unixMs
   * @returns {string}
   */
  #clock(unixMs) {
    return new Date(unixMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
}
