// The meetings screen: the caller's meetings (an admin: every open one), live; create with
// every option of POST /meetings; join by id; join and end from the list.
import { badge, checkbox, duration, field, h, renderRegion, select } from "./dom.js";

const REGIONS = [
  "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1",
  "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "af-south-1",
  "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
  "us-gov-east-1", "us-gov-west-1",
];

export function ageOf(meeting, nowMs) {
  const created = Date.parse(meeting.createdAt);
  const until = meeting.endedAt ? Date.parse(meeting.endedAt) : nowMs;
  return duration(until - created);
}

function createForm(ctx) {
  const text = (attrs = {}) => h("input", { type: "text", autocomplete: "off", ...attrs });
  const number = (min, max) => h("input", { type: "number", min, max, inputMode: "numeric" });
  const room = text({ maxLength: 64, name: "externalMeetingId" });
  const region = select([["", "the stack's default"], ...REGIONS.map((r) => [r, r])], "");
  const maxAttendees = number(1, 250);
  const maxDuration = number(60, 86400);
  const echo = checkbox("Echo reduction");
  const video = select([["", "default"], ["None", "None"], ["HD", "HD"], ["FHD", "FHD"]], "");
  const content = select([["", "default"], ["None", "None"], ["FHD", "FHD"], ["UHD", "UHD"]], "");
  const tags = h("textarea", { rows: 2, name: "tags" });
  const join = checkbox("Join it myself");
  const record = checkbox("Record when the first attendee connects");
  const transcribe = checkbox("Transcribe live (en-US) when the first attendee connects");
  const checked = (wrapper) => wrapper.querySelector("input").checked;

  function body() {
    const request = {};
    if (room.value.trim()) request.externalMeetingId = room.value.trim();
    if (region.value) request.mediaRegion = region.value;
    if (maxAttendees.value) request.maxAttendees = Number(maxAttendees.value);
    if (maxDuration.value) request.maxDurationSeconds = Number(maxDuration.value);
    const features = {};
    if (checked(echo)) features.echoReduction = true;
    if (video.value) features.videoMaxResolution = video.value;
    if (content.value) features.contentMaxResolution = content.value;
    if (Object.keys(features).length) request.features = features;
    const pairs = tags.value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (pairs.length) {
      request.tags = Object.fromEntries(
        pairs.map((line) => [line.split("=")[0].trim(), line.split("=").slice(1).join("=").trim()]),
      );
    }
    if (checked(join)) request.join = true;
    if (checked(record)) request.recording = { auto: true };
    if (checked(transcribe)) request.transcription = { languageCode: "en-US" };
    return request;
  }

  return h(
    "form",
    {
      "aria-labelledby": "create-heading",
      onsubmit: (event) => {
        event.preventDefault();
        ctx.act("Meeting created", async () => {
          const answer = await ctx.api.post("/meetings", body());
          ctx.navigate(answer.meeting.meetingId);
        });
      },
    },
    h("h2", { id: "create-heading", text: "Create a meeting" }),
    field("Room name", room, "Optional. An open meeting with this name is returned instead."),
    h(
      "details",
      {},
      h("summary", { text: "More options" }),
      h(
        "div",
        { class: "grid" },
        field("Media region", region),
        field("Max attendees", maxAttendees, "1–250"),
        field("Max duration (seconds)", maxDuration, "60–86400; the backend ends it then"),
        field("Video max resolution", video),
        field("Content max resolution", content),
        echo,
        field("Tags", tags, "One key=value per line"),
        record,
        transcribe,
      ),
    ),
    join,
    h("button", { type: "submit", text: "Create meeting" }),
  );
}

function joinForm(ctx) {
  const meetingId = h("input", { type: "text", autocomplete: "off", name: "meetingId", required: true });
  return h(
    "form",
    {
      "aria-labelledby": "join-heading",
      onsubmit: (event) => {
        event.preventDefault();
        const id = meetingId.value.trim();
        ctx.act("Joined", async () => {
          await ctx.api.post(`/meetings/${encodeURIComponent(id)}/attendees`);
          ctx.navigate(id);
        });
      },
    },
    h("h2", { id: "join-heading", text: "Join a meeting" }),
    field("Meeting id", meetingId),
    h("button", { type: "submit", text: "Join" }),
  );
}

function meetingRow(ctx, meeting, nowMs) {
  const open = meeting.status !== "ENDED";
  const mayEnd = open && (ctx.user.isAdmin || meeting.hostUserId === ctx.user.userId);
  const id = meeting.meetingId;
  const room = meeting.externalMeetingId;
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: `#/meetings/${id}`, "data-key": `open-${id}`, text: room })),
    h("td", {}, badge(meeting.status)),
    h("td", { text: meeting.hostUserId }),
    h("td", { text: `${meeting.attendees.connected} / ${meeting.attendees.peakConnected}` }),
    h("td", { text: ageOf(meeting, nowMs) }),
    h("td", { text: meeting.endReason ?? "—" }),
    h(
      "td",
      { class: "actions" },
      open &&
        h("button", {
          type: "button",
          "data-key": `join-${id}`,
          "aria-label": `Join ${room}`,
          text: "Join",
          onclick: () =>
            ctx.act("Joined", async () => {
              await ctx.api.post(`/meetings/${id}/attendees`);
              ctx.navigate(id);
            }),
        }),
      mayEnd &&
        h("button", {
          type: "button",
          class: "danger",
          "data-key": `end-${id}`,
          "aria-label": `End ${room}`,
          text: "End",
          onclick: () => ctx.act("Meeting ended", () => ctx.api.del(`/meetings/${id}`)),
        }),
    ),
  );
}

export function meetingsScreen(ctx) {
  const heading = h("h1", { tabindex: "-1", text: "Meetings" });
  let showAll = false;
  const table = h("div", { class: "table-wrap" });
  const caption = h("p", { class: "hint", id: "list-what" });
  const scope = ctx.user.isAdmin
    ? checkbox("Every open meeting (admin)", false)
    : null;
  scope?.querySelector("input").addEventListener("change", (event) => {
    showAll = event.target.checked;
    refresh();
  });

  async function refresh() {
    const path = showAll ? "/meetings?status=open&limit=50" : "/meetings?limit=50";
    const { meetings } = await ctx.api.get(path);
    caption.textContent = showAll
      ? "Every open meeting, newest first."
      : "The meetings you host, newest first.";
    const nowMs = ctx.clock.now();
    renderRegion(table, { meetings, age: meetings.map((m) => ageOf(m, nowMs)) }, () =>
      meetings.length === 0
        ? h("p", { text: "No meetings yet." })
        : h(
            "table",
            {},
            h("caption", { text: "Meetings (live)" }),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["Room", "Status", "Host", "Connected / peak", "Age", "End reason", "Actions"].map(
                  (name) => h("th", { scope: "col", text: name }),
                ),
              ),
            ),
            h("tbody", {}, meetings.map((m) => meetingRow(ctx, m, nowMs))),
          ),
    );
  }

  const element = h(
    "div",
    { class: "screen" },
    heading,
    h(
      "section",
      { class: "card", "aria-labelledby": "list-heading" },
      h("h2", { id: "list-heading", text: "Your meetings" }),
      scope,
      caption,
      table,
    ),
    h("div", { class: "columns" }, h("section", { class: "card" }, createForm(ctx)), h("section", { class: "card" }, joinForm(ctx))),
  );
  return { heading, element, refresh };
}
