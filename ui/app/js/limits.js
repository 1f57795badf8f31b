// @ts-check
// The engine's range for every number the panel's fields set (voxdeck_core::bounds), put on
// the fields marked `data-limit="<config key>"` and checked before a command is sent, so the
// panel refuses what the engine would refuse, in the same place the engine keeps it.

/** @typedef {import("../../bindings/Limit").Limit} Limit */

/** @type {Map<string, Limit>} */
const known = new Map();

/**
 * Takes the ranges from a PanelStatus and sets `min`/`max` on the marked fields.
 * @param {Limit[]} limits
 * @returns {void}
 */
export function applyLimits(limits) {
  known.clear();
  for (const limit of limits) known.set(limit.key, limit);
  const inputs = /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll("input[data-limit]"));
  for (const input of inputs) {
    const limit = known.get(input.dataset.limit ?? "");
    if (!limit) continue;
    input.min = String(limit.min);
    input.max = String(limit.max);
  }
}

/**
 * The field's number, or a sentence saying what is wrong with it. `integer` fields must be
 * whole; the range is the engine's (before the first status arrives, any finite number
 * passes here and the engine still checks).
 * @param {HTMLInputElement} input
 * @param {string} label
 * @param {boolean} [integer]
 * @returns {number | string}
 */
export function readNumber(input, label, integer = false) {
  const v = input.valueAsNumber;
  if (!Number.isFinite(v)) return `${label} must be a number.`;
  if (integer && !Number.isInteger(v)) return `${label} must be a whole number.`;
  const limit = known.get(input.dataset.limit ?? "");
  if (limit && (v < limit.min || v > limit.max)) {
    return `${label} must be between ${limit.min} and ${limit.max}.`;
  }
  return v;
}
