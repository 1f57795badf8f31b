// @ts-check
// Talk / Memory / Settings / Bench: buttons #tab-NAME show #panel-NAME. Tabs that need data when
// shown (Settings loads its form) get a callback.

import { byId } from "./dom.js";

export const TABS = /** @type {const} */ (["talk", "memory", "settings", "bench"]);
/** @typedef {(typeof TABS)[number]} TabName */

export class Tabs {
  /** @type {TabName} */
  #current = "talk";
  /** @readonly @type {(tab: TabName) => void} */
  #onShow;

  /** @param {(tab: TabName) => void} onShow */
  constructor(onShow) {
    this.#onShow = onShow;
    for (const tab of TABS) {
      const button = byId(`tab-${tab}`);
      button.addEventListener("click", () => this.show(tab));
      // Arrow keys move between tabs, as in the ARIA tabs pattern.
      button.addEventListener("keydown", (e) => {
        if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
        const i = TABS.indexOf(tab) + (e.key === "ArrowRight" ? 1 : TABS.length - 1);
        const next = TABS[i % TABS.length];
        this.show(next);
        byId(`tab-${next}`).focus();
      });
    }
    this.show("talk");
  }

  /** @returns {TabName} */
  get active() {
    return this.#current;
  }

  /**
   * @param {TabName} tab
   * @returns {void}
   */
  show(tab) {
    this.#current = tab;
    for (const t of TABS) {
      const selected = t === tab;
      const button = byId(`tab-${t}`);
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      byId(`panel-${t}`).hidden = !selected;
    }
    this.#onShow(tab);
  }
}
