// @ts-check
// Wiring: one transport, one dispatcher from messages to views, and the `status` redraw on
// every (re)connect. Nothing here polls: the page changes only when a message arrives or
// the user does something.

import { BenchPanel } from "./bench.js";
import { Charts } from "./charts.js";
import { Conversation } from "./conversation.js";
import { byId, describeError, showMessage } from "./dom.js";
import { applyLimits } from "./limits.js";
import { ModeView } from "./mode.js";
import { PushToTalk } from "./ptt.js";
import { CloudKeyForm } from "./cloud_key.js";
import { SettingsPanel } from "./settings.js";
import { StatusView } from "./status.js";
import { FirstRunCard } from "./first_run.js";
import { LatencyPanel } from "./latency_bench.js";
import { ConfirmBanner, MemoryPanel } from "./memory.js";
import { TimersWidget } from "./timers.js";
import { Tabs } from "./tabs.js";
import { connect, detectHost, replyOf } from "./transport.js";

/** @typedef {import("../../bindings/Command").Command} Command */
/** @typedef {import("../../bindings/Outgoing").Outgoing} Outgoing */
/** @typedef {import("../../bindings/PanelStatus").PanelStatus} PanelStatus */
/** @typedef {import("../../bindings/EngineStatus").EngineStatus} EngineStatus */
/** @typedef {import("./transport.js").Send} Send */
/** @typedef {import("./transport.js").Transport} Transport */

const statusError = byId("status-error");
const host = detectHost();

// Views are built before connecting; `send` reaches the transport only when called.
/** @type {Transport | null} */
let transport = null;

/**
 * Sends a command; a failure is logged and shown in words where it happened.
 * @type {Send}
 */
const send = async (command, errorEl) => {
  try {
    if (!transport) throw new Error("not connected yet");
    return await transport.send(command);
  } catch (e) {
    const message = describeError(e);
    console.error(`voxdeck: ${command.cmd} failed: ${message}`);
    showMessage(errorEl, message);
    return null;
  }
};

/**
 * @typedef {object} Views
 * @property {StatusView} status
 * @property {PushToTalk} ptt
 * @property {FirstRunCard} firstRun
 * @property {ModeView} mode
 * @property {Conversation} conversation
 * @property {Charts} charts
 * @property {SettingsPanel} settings
 * @property {CloudKeyForm} cloudKey
 * @property {BenchPanel} bench
 * @property {LatencyPanel} latency
 * @property {Tabs} tabs
 * @property {TimersWidget} timers
 * @property {MemoryPanel} memory
 * @property {ConfirmBanner} confirm
 */

/**
 * @param {Views} v
 * @param {Outgoing} m
 * @returns {void}
 */
function dispatch(v, m) {
  switch (m.type) {
    case "state":
      v.ptt.setState(m.state);
      v.conversation.state(m.turn, m.state);
      break;
    case "input_level":
      v.ptt.inputLevel(m.rms_dbfs);
      break;
    case "transcript":
      v.conversation.transcript(m.turn, m.text);
      break;
    case "answer_delta":
      v.conversation.answerDelta(m.turn, m.text, m.tokens, m.elapsed_ms);
      break;
    case "spoken":
      break; // the answer is already shown from the deltas; turn_complete settles it
    case "notice":
      v.conversation.notice(m.turn, m.message);
      break;
    case "error":
      v.conversation.error(m.turn, m.stage, m.message);
      break;
    case "turn_complete":
      v.conversation.complete(m.record);
      break;
    case "system":
      break; // drawn by the backend into the memory chart
    case "charts":
      v.charts.render(m.charts);
      break;
    case "engine":
      v.firstRun.engine(m.status);
      showEngine(v, m.status);
      // A session (and its toolbox) came or went: the timers and facts with it.
      if (m.status.state !== "loading") void refreshTools(v);
      break;
    case "starter":
      v.firstRun.render(m.starter);
      showEngine(v, null);
      break;
    case "mode":
      v.mode.setMode(m.mode);
      v.mode.setLocalModel(m.local_model);
      v.cloudKey.show(m.cloud);
      break;
    case "bench":
      v.bench.render(m.status);
      break;
    case "latency_bench":
      v.latency.render(m.status);
      break;
    case "download":
      v.settings.download(m.status);
      break;
    case "switch":
      v.settings.switchStatus(m.status);
      break;
    case "tool_call":
      v.conversation.toolCall(m.turn, m.call);
      break;
    case "timers":
      v.timers.render(m.timers);
      break;
    case "timer_due":
      v.timers.due(m.timer, m.spoken);
      break;
    case "facts":
      v.memory.render(m.facts);
      v.confirm.factsChanged(m.facts.length);
      break;
    case "confirm_asked":
      v.confirm.show(m);
      break;
    case "mode_changed":
      break; // the mode itself comes as "mode", from the engine
    default: {
      /** @type {never} */
      const unknown = m;
      console.warn("voxdeck: unknown message", unknown);
    }
  }
}

/**
 * Everything drawn from scratch from a PanelStatus (start and every reconnect).
 * @param {Views} v
 * @param {PanelStatus} s
 * @returns {void}
 */
function apply(v, s) {
  v.firstRun.render(s.starter);
  v.firstRun.engine(s.engine);
  showEngine(v, s.engine);
  v.mode.setMode(s.mode);
  v.mode.setLocalModel(s.local_model);
  v.cloudKey.show(s.cloud);
  v.ptt.setState(s.state);
  v.ptt.describe(s.input, s.output, s.shortcut);
  v.conversation.reset(s.turns, s.turn, s.state);
  v.charts.reset(s.charts);
  v.bench.render(s.bench);
  v.latency.render(s.latency);
  applyLimits(s.limits);
  v.settings.switchStatus(s.switch);
  v.timers.render(s.tools.timers);
  v.memory.apply(s.tools);
  v.confirm.show(s.tools.confirm);
}

/**
 * @param {Views} v
 * @returns {Promise<void>}
 */
async function refresh(v) {
  const reply = replyOf(await send({ cmd: "status" }, statusError), "status");
  if (!reply) return;
  showMessage(statusError, null);
  apply(v, reply.status);
  v.settings.invalidate(v.tabs.active === "settings");
}

/**
 * The timers, facts and pending confirmation now.
 * @param {Views} v
 * @returns {Promise<void>}
 */
async function refreshTools(v) {
  const reply = replyOf(await send({ cmd: "get_tools" }, statusError), "tools");
  if (!reply) return;
  v.timers.render(reply.tools.timers);
  v.memory.apply(reply.tools);
  v.confirm.show(reply.tools.confirm);
}

/** @type {EngineStatus} */
let engineStatus = { state: "unloaded" };

/**
 * The engine's state (or the last one, with `null`) on the header, the talk button and the
 * first-run card, which all depend on whether models are installed yet.
 * @param {Views} v
 * @param {EngineStatus | null} status
 * @returns {void}
 */
function showEngine(v, status) {
  if (status) engineStatus = status;
  const firstRun = v.firstRun.active;
  v.status.engine(engineStatus);
  v.status.setFirstRun(firstRun);
  v.ptt.setEngine(engineStatus, firstRun);
}

/** @returns {Views} */
function build() {
  const mode = new ModeView(send, () => {
    tabs.show("settings");
    cloudKey.focus();
  });
  const conversation = new Conversation();
  const cloudKey = new CloudKeyForm(send, (cloud) => mode.setCloud(cloud));
  const settings = new SettingsPanel(send, (cloud) => cloudKey.show(cloud));
  const tabs = new Tabs((tab) => {
    if (tab === "settings") settings.open();
    if (tab === "talk") conversation.scrollToEnd();
  });
  const timers = new TimersWidget(send);
  const memory = new MemoryPanel(send, () => confirm.expectAnswer());
  const confirm = new ConfirmBanner(send, (tools) => {
    memory.apply(tools);
    timers.render(tools.timers);
  });
  return {
    timers,
    memory,
    confirm,
    status: new StatusView(send, host),
    ptt: new PushToTalk(send, host),
    firstRun: new FirstRunCard(send),
    mode,
    conversation,
    charts: new Charts(send),
    settings,
    cloudKey,
    bench: new BenchPanel(send, host),
    latency: new LatencyPanel(send),
    tabs,
  };
}

const views = build();
transport = connect({
  onMessage: (message) => dispatch(views, message),
  onConnection: (state) => views.status.setConnection(state),
  onReady: () => void refresh(views),
});
