// One meeting, live: its summary and actions, the roster (with simulated clients locally), the
// inferred end reason with the rule behind it next to what Chime really did (local stack), the
// timeline, recordings and transcription, and webhook deliveries for admins.
import { ApiError } from "./api.js";
import { badge, h, renderRegion, time } from "./dom.js";
import { ageOf } from "./meetings.js";

const WEBHOOK_EVERY = 3; // refreshes between two reads of the webhook deliveries

function table(caption, columns, rows, empty) {
  if (rows.length === 0) return h("p", { text: empty });
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, columns.map((name) => h("th", { scope: "col", text: name })))),
      h("tbody", {}, rows),
    ),
  );
}

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.flatMap(([name, value]) => [h("dt", { text: name }), h("dd", {}, value ?? "—")]),
  );
}

// What a read the caller may not make answers: shown instead of the panel, not as an error.
async function optional(read) {
  try {
    return { value: await read() };
  } catch (error) {
    if (error instanceof ApiError && [403, 404].includes(error.status)) return { refused: error };
    throw error;
  }
}

function summary(ctx, meeting) {
  return facts([
    ["Status", badge(meeting.status)],
    ["Room", meeting.externalMeetingId],
    ["Meeting id", h("code", { text: meeting.meetingId })],
    ["Host", meeting.hostUserId],
    ["Connected / peak / total", `${meeting.attendees.connected} / ${meeting.attendees.peakConnected} / ${meeting.attendees.total}`],
    ["Age", ageOf(meeting, ctx.clock.now())],
    ["Created", time(meeting.createdAt)],
    ["Started", time(meeting.startedAt)],
    ["Ended", time(meeting.endedAt)],
    ["End reason", meeting.endReason ?? "—"],
    ["Media region", meeting.mediaRegion],
    ["Max attendees", String(meeting.maxAttendees)],
    ["Content share", meeting.contentShareActive ? "active" : "none"],
  ]);
}

function actions(ctx, meeting, refresh) {
  const open = meeting.status !== "ENDED";
  const manager = ctx.user.isAdmin || meeting.hostUserId === ctx.user.userId;
  const id = meeting.meetingId;
  const act = (message, call) => h("button", {
    type: "button",
    "data-key": `action-${message}`,
    text: message,
    class: message === "End meeting" ? "danger" : undefined,
    onclick: () => ctx.act(`${message}: done`, async () => { await call(); await refresh(); }),
  });
  if (!open) return h("p", { class: "hint", text: "The meeting has ended." });
  const recording = meeting.recording?.status === "CAPTURING";
  const transcribing = ["STARTING", "STARTED", "INTERRUPTED"].includes(meeting.transcription?.status);
  return h(
    "div",
    { class: "actions" },
    act("Join", () => ctx.api.post(`/meetings/${id}/attendees`)),
    manager && (recording
      ? act("Stop recording", () => ctx.api.del(`/meetings/${id}/recording`))
      : act("Start recording", () => ctx.api.post(`/meetings/${id}/recording`))),
    manager && (transcribing
      ? act("Stop transcription", () => ctx.api.del(`/meetings/${id}/transcription`))
      : act("Start transcription", () => ctx.api.post(`/meetings/${id}/transcription`, { languageCode: "en-US" }))),
    manager && act("End meeting", () => ctx.api.del(`/meetings/${id}`)),
  );
}

function roster(ctx, attendees, open, refresh) {
  const simulate = ctx.simulation && open;
  const columns = ["User", "Presence", "Audio", "Video", "Content", "Camera", "Sharing", "Joined", "Left"];
  const rows = attendees.map((a) => {
    const client = (action, label) => h("button", {
      type: "button",
      "data-key": `${action}-${a.attendeeId}`,
      "aria-label": `${label} ${a.userId}`,
      text: label,
      onclick: () => ctx.act(`${label}: ${a.userId}`, async () => {
        await ctx.simulationPanel.media(a.attendeeId, action);
        await refresh();
      }),
    });
    return h(
      "tr",
      { "data-user": a.userId },
      h("th", { scope: "row" }, a.userId, h("br"), h("code", { class: "hint", text: a.attendeeId })),
      h("td", {}, badge(a.presence)),
      h("td", { text: a.capabilities.audio }),
      h("td", { text: a.capabilities.video }),
      h("td", { text: a.capabilities.content }),
      h("td", { text: a.video ? "on" : "off" }),
      h("td", { text: a.contentShare ? "yes" : "no" }),
      h("td", {}, time(a.joinedAt)),
      h("td", {}, time(a.leftAt)),
      simulate && h(
        "td",
        { class: "actions" },
        a.presence === "CONNECTED"
          ? [client("leave", "Leave"), client("drop", "Drop")]
          : a.presence !== "REMOVED" && client("connect", "Connect"),
      ),
    );
  });
  return table("Roster (live)", simulate ? [...columns, "Simulated client"] : columns, rows, "Nobody has joined yet.");
}

function endReason(end, truth) {
  if (!end) return h("p", { text: "The meeting is open: no end reason yet." });
  const checks = end.checks.map((c) =>
    h(
      "tr",
      {},
      h("th", { scope: "row", text: c.reason }),
      h("td", { text: c.condition }),
      h("td", { text: `${c.thresholdSeconds} s` }),
      h("td", { text: c.heldAtEnd ? "yes" : "no" }),
      h("td", {}, c.since ? [time(c.since), c.sinceExact ? "" : " (at the latest)"] : "—"),
      h("td", { text: c.heldSeconds === null ? "—" : `${Math.round(c.heldSeconds)} s` }),
      h("td", { text: c.verdict ?? "—" }),
    ),
  );
  return [
    h(
      "p",
      { class: "reason" },
      "Inferred: ",
      h("strong", { "data-testid": "end-reason", text: end.reason }),
      end.final ? " (final)" : [" (settles at ", time(end.settlesAt), ")"],
    ),
    h("p", { "data-testid": "end-rule", text: end.rule }),
    facts([["Ended", time(end.endedAt)], ["Instant from", end.endedAtSource ?? "—"]]),
    table(
      "Chime's auto-end rules tried against the end, in order",
      ["Rule", "Condition", "Threshold", "Held at the end", "Since", "Held for", "Verdict"],
      checks,
      "No rule can be judged: the log's folded past is incomplete.",
    ),
    truth,
  ];
}

function truthPanel(truth) {
  if (!truth) return null;
  const agrees = truth.endReason && truth.endReason === truth.inferred;
  return h(
    "div",
    { class: "truth", "aria-labelledby": "truth-heading", role: "group" },
    h("h3", { id: "truth-heading", text: "What Chime really did (the emulator's ground truth)" }),
    facts([
      ["Status", badge(truth.status)],
      ["Ended", time(truth.endedAt)],
      ["Chime's rule", h("span", { "data-testid": "truth-reason", text: truth.emulatorEndReason ?? "—" })],
      ["As an end reason", truth.endReason ?? "none (not a rule the backend names)"],
      ["Inference", truth.status === "ENDED" ? (agrees ? "agrees" : "differs (or not settled)") : "—"],
    ]),
  );
}

function timeline(items, truncated) {
  const shown = [...items].reverse();
  return [
    truncated ? h("p", { class: "hint", text: "Older items are left out." }) : null,
    h(
      "ol",
      { class: "timeline", reversed: true },
      shown.map((item) =>
        h(
          "li",
          {},
          time(item.at),
          " ",
          badge(item.source),
          " ",
          h("strong", { text: item.type }),
          item.userId ? ` ${item.userId}` : "",
          item.detail ? ` — ${item.detail}` : "",
        ),
      ),
    ),
  ];
}

function media(meeting, recordings) {
  const rows = (recordings ?? []).map((r) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("code", { text: r.recordingId })),
      h("td", {}, badge(r.status)),
      h("td", {}, time(r.startedAt)),
      h("td", {}, time(r.stoppedAt)),
      h("td", { text: r.failure ? `${r.failure.code}: ${r.failure.message}` : "—" }),
    ),
  );
  const transcription = meeting.transcription;
  return [
    h("p", {}, "Live transcription: ", transcription ? badge(transcription.status) : "none"),
    recordings === null
      ? h("p", { class: "hint", text: "Recordings are visible to the host and admins." })
      : table("Recordings", ["Recording", "Status", "Started", "Stopped", "Failure"], rows, "No recordings."),
  ];
}

function deliveries(hooks) {
  const rows = hooks.flatMap(({ webhook, attempts }) =>
    attempts.map((d) =>
      h(
        "tr",
        {},
        h("th", { scope: "row", text: webhook.url }),
        h("td", { text: d.eventType }),
        h("td", { text: String(d.attempt) }),
        h("td", {}, time(d.attemptedAt)),
        h("td", { text: d.delivered ? `delivered (${d.statusCode})` : d.error ?? `status ${d.statusCode}` }),
      ),
    ),
  );
  return table(
    "Recent webhook deliveries (every subscription)",
    ["Webhook", "Event", "Attempt", "At", "Outcome"],
    rows,
    hooks.length ? "No deliveries yet." : "No webhooks registered.",
  );
}

export function meetingScreen(ctx, meetingId) {
  const heading = h("h1", { tabindex: "-1", text: "Meeting" });
  const regions = Object.fromEntries(
    ["summary", "actions", "roster", "end", "timeline", "media", "webhooks"].map((name) => [
      name,
      h("div", { class: "region", "data-region": name }),
    ]),
  );
  const section = (id, title, region) =>
    h("section", { class: "card", "aria-labelledby": id }, h("h2", { id, text: title }), region);
  let ticks = 0;
  let timelineRefused = false;
  const id = encodeURIComponent(meetingId);

  async function refresh() {
    const { meeting } = await ctx.api.get(`/meetings/${id}`);
    heading.textContent = `Meeting ${meeting.externalMeetingId}`;
    const open = meeting.status !== "ENDED";
    const [attendees, line, recordings, truth] = await Promise.all([
      ctx.api.get(`/meetings/${id}/attendees?limit=100`),
      timelineRefused ? { refused: true } : optional(() => ctx.api.get(`/meetings/${id}/timeline`)),
      optional(() => ctx.api.get(`/meetings/${id}/recordings?limit=10`)),
      ctx.simulation ? optional(() => ctx.api.get(`/_local/truth/meetings/${id}`)) : { value: null },
    ]);
    timelineRefused = Boolean(line.refused);
    renderRegion(regions.summary, { meeting, age: ageOf(meeting, ctx.clock.now()) }, () => summary(ctx, meeting));
    renderRegion(regions.actions, { meeting }, () => actions(ctx, meeting, refresh));
    renderRegion(regions.roster, { a: attendees.attendees, open }, () => roster(ctx, attendees.attendees, open, refresh));
    const end = line.value?.end ?? null;
    const truthView = truth.value ? { ...truth.value, inferred: end?.reason } : null;
    renderRegion(regions.end, { end, truthView, refused: timelineRefused, ended: !open }, () =>
      timelineRefused
        ? h("p", { text: open ? "The meeting is open." : `Ended: ${meeting.endReason}. The rule behind it is shown to the host and admins.` })
        : [endReason(end, truthPanel(truthView)), end ? null : truthPanel(truthView)],
    );
    renderRegion(regions.timeline, line.value ?? { refused: true }, () =>
      line.value
        ? timeline(line.value.items, line.value.truncated)
        : h("p", { text: "The timeline is shown to the host and admins." }),
    );
    renderRegion(regions.media, { meeting: meeting.transcription, r: recordings.value?.recordings ?? null }, () =>
      media(meeting, recordings.value?.recordings ?? null),
    );
    if (ctx.user.isAdmin && ticks % WEBHOOK_EVERY === 0) await refreshWebhooks();
    ticks += 1;
  }

  async function refreshWebhooks() {
    const { webhooks } = await ctx.api.get("/webhooks?limit=10");
    const hooks = await Promise.all(
      webhooks.map(async (webhook) => ({
        webhook,
        attempts: (await ctx.api.get(`/webhooks/${webhook.webhookId}/deliveries?limit=5`)).deliveries,
      })),
    );
    renderRegion(regions.webhooks, hooks, () => deliveries(hooks));
  }

  const main = h(
    "div",
    { class: "meeting-main" },
    h("p", {}, h("a", { href: "#/", text: "← All meetings" })),
    heading,
    h("section", { class: "card", "aria-label": "Summary" }, regions.summary, regions.actions),
    section("roster-heading", "Roster", regions.roster),
    section("end-heading", "End reason", regions.end),
    section("timeline-heading", "Timeline (latest first)", regions.timeline),
    section("media-heading", "Recordings and transcription", regions.media),
    ctx.user.isAdmin && section("webhooks-heading", "Webhook deliveries", regions.webhooks),
  );
  return { heading, element: main, refresh, meetingId };
}
