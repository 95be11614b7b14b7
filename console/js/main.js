// The console's shell: configuration, sign-in state, the two screens behind the address's
// hash (#/ and #/meetings/<id>), the simulation panel (local stack), and the live refresh.
import { Api } from "./api.js";
import { Session } from "./auth.js";
import { h } from "./dom.js";
import { meetingScreen } from "./meeting.js";
import { meetingsScreen } from "./meetings.js";
import { signInScreen } from "./signin.js";
import { SimulationPanel, WorldClock } from "./simulation.js";

const REFRESH_MS = 1500; // changes show within about two seconds, without a reload

class Console {
  constructor(config) {
    this.config = config;
    this.session = new Session(config);
    this.api = new Api(config.apiUrl, () => this.session.current()?.token, () => this.expired());
    this.clock = new WorldClock();
    this.screen = null;
    this.status = document.getElementById("status");
    this.main = document.getElementById("main");
    this.who = document.getElementById("who");
  }

  async start() {
    try {
      await this.session.completeHostedSignIn();
    } catch (error) {
      this.announce(error.message, true);
    }
    window.addEventListener("hashchange", () => this.route());
    this.route();
    this.refreshForever();
  }

  expired() {
    if (!this.session.current()) return;
    this.session.forget();
    this.route();
    this.announce("The API refused your sign-in (expired?): sign in again.", true);
  }

  announce(message, isError = false) {
    this.status.textContent = message;
    this.status.className = isError ? "status error" : "status";
  }

  // Runs a user's action: its outcome announced (an error's message, never a token).
  async act(done, action) {
    try {
      await action();
      if (done) this.announce(done);
      await this.refreshNow();
    } catch (error) {
      this.announce(error.message || String(error), true);
    }
  }

  context(user) {
    const ctx = {
      config: this.config,
      session: this.session,
      api: this.api,
      user,
      clock: this.clock,
      simulation: Boolean(this.config.simulation),
      act: (done, action) => this.act(done, action),
      navigate: (meetingId) => {
        const hash = meetingId ? `#/meetings/${meetingId}` : "#/";
        if (window.location.hash === hash) this.route();
        else window.location.hash = hash; // hashchange routes
      },
    };
    ctx.simulationPanel = ctx.simulation && user ? new SimulationPanel(ctx) : null;
    this.panel = ctx.simulationPanel;
    return ctx;
  }

  route() {
    const user = this.session.current();
    const ctx = this.context(user);
    const match = window.location.hash.match(/^#\/meetings\/([^/]+)$/);
    let screen;
    if (!user) screen = signInScreen(ctx);
    else if (match) screen = meetingScreen(ctx, decodeURIComponent(match[1]));
    else screen = meetingsScreen(ctx);
    this.screen = screen;
    this.renderWho(ctx, user);
    const panel = ctx.simulationPanel?.element(screen.meetingId ?? null);
    this.main.replaceChildren(h("div", { class: panel ? "layout with-panel" : "layout" }, screen.element, panel));
    document.title = `${screen.heading.textContent} — Meetings console`;
    screen.heading.focus();
    this.refreshNow();
  }

  renderWho(ctx, user) {
    if (!user) {
      this.who.replaceChildren();
      return;
    }
    this.who.replaceChildren(
      h("span", { text: `Signed in as ${user.userId}${user.isAdmin ? " (admin)" : ""}` }),
      h("button", {
        type: "button",
        class: "link",
        text: "Sign out",
        onclick: () => {
          ctx.session.signOut();
          ctx.navigate("");
        },
      }),
    );
  }

  async refreshNow() {
    const screen = this.screen;
    this.panel?.showTime();
    if (!screen?.refresh) return;
    try {
      await screen.refresh();
    } catch (error) {
      if (screen === this.screen) this.announce(error.message || String(error), true);
    }
  }

  async refreshForever() {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
      if (!document.hidden) await this.refreshNow();
    }
  }
}

async function main() {
  const answer = await fetch("config.json", { cache: "no-store" });
  const config = await answer.json();
  config.apiUrl = (config.apiUrl || "").replace(/\/$/, "");
  await new Console(config).start();
}

main().catch((error) => {
  const status = document.getElementById("status");
  status.textContent = `The console could not start: ${error.message}`;
  status.className = "status error";
});
