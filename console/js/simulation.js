// The simulation panel (local stack only): the world clock, Chime faults, event chaos, the
// cleanup, and simulated clients for attendees — through the local stack's /_local/ routes.
import { Api } from "./api.js";
import { button, checkbox, field, group, h, select } from "./dom.js";

const OPERATIONS = [
  "CreateMeeting", "CreateMeetingWithAttendees", "CreateAttendee", "BatchCreateAttendee",
  "GetMeeting", "DeleteMeeting", "DeleteAttendee", "UpdateAttendeeCapabilities",
  "StartMeetingTranscription", "StopMeetingTranscription",
];
const ERRORS = [
  "ThrottlingException", "ServiceUnavailableException", "ServiceFailureException",
  "NotFoundException", "LimitExceededException", "BadRequestException",
];

// The world clock as the page knows it: the browser's clock plus what the stack was advanced.
export class WorldClock {
  constructor() {
    this.offsetMs = 0;
  }

  now() {
    return Date.now() + this.offsetMs;
  }

  learn(worldNowMs) {
    this.offsetMs = worldNowMs - Date.now();
  }
}

function summaryOf(answer) {
  return Object.entries(answer ?? {})
    .filter(([, value]) => typeof value !== "object")
    .map(([name, value]) => `${name} ${value}`)
    .join(", ");
}

export class SimulationPanel {
  constructor(ctx) {
    this.ctx = ctx;
    this.meetingId = null;
    this.audio = checkbox("Audio", true);
    this.video = checkbox("Video");
    this.content = checkbox("Share content");
    this.worldTime = h("output", { "aria-live": "off" });
    this.cleanupResult = h("output");
    this.chaosState = h("output");
  }

  connectFlags() {
    const on = (wrapper) => wrapper.querySelector("input").checked;
    return { audio: on(this.audio), video: on(this.video), content: on(this.content) };
  }

  async syncClock() {
    const { nowMs } = await this.ctx.api.post("/_local/clock/advance", { seconds: 0 });
    this.ctx.clock.learn(nowMs);
    this.showTime();
  }

  showTime() {
    this.worldTime.textContent = new Date(this.ctx.clock.now()).toISOString().replace(/\.\d+Z$/, " UTC");
  }

  async advance(seconds) {
    const { nowMs } = await this.ctx.api.post("/_local/clock/advance", { seconds });
    this.ctx.clock.learn(nowMs);
    this.showTime();
  }

  // The simulated client of one attendee: connect, leave or drop.
  async media(attendeeId, action) {
    const path = `/_local/meetings/${this.meetingId}/attendees/${attendeeId}/${action}`;
    await this.ctx.api.post(path, action === "connect" ? this.connectFlags() : {});
  }

  // Another user joins the meeting: a token from the local issuer, then the public join.
  async joinAs(userId) {
    const { token } = await this.ctx.api.post("/_local/token", { sub: userId });
    const other = new Api(this.ctx.api.baseUrl, () => token, () => {});
    await other.post(`/meetings/${this.meetingId}/attendees`);
  }

  clockSection() {
    const seconds = h("input", { type: "number", min: 0, value: "301", inputMode: "numeric" });
    const advance = (by, text) => button(text, () => this.ctx.act(`Clock advanced ${by()} s`, () => this.advance(by())));
    return group(
      "World clock",
      h("p", {}, "Now: ", this.worldTime),
      field("Seconds", seconds),
      h(
        "div",
        { class: "actions" },
        advance(() => Number(seconds.value), "Advance clock"),
        advance(() => 301, "Advance 5 min 1 s"),
        advance(() => 121, "Advance 2 min 1 s (settle window)"),
      ),
    );
  }

  attendeeSection() {
    const userId = h("input", { type: "text", autocomplete: "off", value: "bob" });
    return group(
      "Simulated clients",
      field("User id", userId),
      button("Join as this user", () =>
        this.ctx.act(`${userId.value} joined`, () => this.joinAs(userId.value.trim())),
      ),
      h("p", { class: "hint", text: "Connect joins the client with:" }),
      h("div", { class: "inline" }, this.audio, this.video, this.content),
    );
  }

  faultSection() {
    const operation = select(OPERATIONS.map((o) => [o, o]), "CreateAttendee");
    const error = select(ERRORS.map((e) => [e, e]), "ThrottlingException");
    const count = h("input", { type: "number", min: 1, value: "1", inputMode: "numeric" });
    const api = this.ctx.api;
    const inject = () =>
      api.post("/_local/faults", {
        operation: operation.value,
        error: error.value,
        count: Number(count.value),
      });
    return group(
      "Chime faults",
      field("Operation", operation),
      field("Error", error),
      field("Times", count),
      h(
        "div",
        { class: "actions" },
        button("Inject fault", () => this.ctx.act(`${operation.value} will fail with ${error.value}`, inject)),
        button("Clear faults", () => this.ctx.act("Faults cleared", () => api.del("/_local/faults"))),
      ),
    );
  }

  chaosSection() {
    const rate = (value) => h("input", { type: "number", min: 0, max: 1, step: 0.05, value });
    const drop = rate("0.2");
    const duplicate = rate("0.2");
    const reorder = h("input", { type: "number", min: 0, value: "5", inputMode: "numeric" });
    const set = (body, message) =>
      this.ctx.act(message, async () => {
        await this.ctx.api.post("/_local/chaos", body);
        await this.showChaos();
      });
    const chaos = () => ({
      dropRate: Number(drop.value),
      duplicateRate: Number(duplicate.value),
      reorderWindow: Number(reorder.value),
    });
    return group(
      "Event chaos",
      field("Drop rate", drop),
      field("Duplicate rate", duplicate),
      field("Reorder window", reorder),
      h(
        "div",
        { class: "actions" },
        button("Chaos on", () => set(chaos(), "Chaos on")),
        button("Chaos off", () => set({}, "Chaos off")),
      ),
      h("p", {}, "Deliveries: ", this.chaosState),
    );
  }

  async showChaos() {
    const report = await this.ctx.api.get("/_local/chaos");
    this.chaosState.textContent = summaryOf(report.deliveries) || "none yet";
  }

  cleanupSection() {
    const reconcile = checkbox("Full reconciliation");
    const run = async () => {
      const all = reconcile.querySelector("input").checked;
      const answer = await this.ctx.api.post("/_local/cleanup", all ? { reconcile: "all" } : {});
      this.cleanupResult.textContent = summaryOf(answer) || "nothing to do";
    };
    return group(
      "Cleanup",
      reconcile,
      button("Run cleanup now", () => this.ctx.act("Cleanup ran", run)),
      h("p", {}, "Last run: ", this.cleanupResult),
    );
  }

  element(meetingId = null) {
    this.meetingId = meetingId;
    this.syncClock().catch(() => {});
    this.showChaos().catch(() => {});
    return h(
      "aside",
      { class: "card simulation", "aria-labelledby": "simulation-heading" },
      h("h2", { id: "simulation-heading", text: "Simulation (local stack)" }),
      meetingId && this.attendeeSection(),
      this.clockSection(),
      this.cleanupSection(),
      this.faultSection(),
      this.chaosSection(),
    );
  }
}
