// The sign-in screen: locally any user id (and "admin"), deployed the user pool's hosted UI.
import { checkbox, field, h } from "./dom.js";

export function signInScreen(ctx) {
  const heading = h("h1", { tabindex: "-1", text: "Sign in" });
  if (ctx.config.auth.kind === "cognito") {
    const button = h("button", {
      type: "button",
      text: "Sign in with the user pool",
      onclick: () => ctx.act(null, () => ctx.session.startHostedSignIn()),
    });
    const intro = "You sign in on the stack's hosted sign-in page and come back here.";
    return { heading, element: h("section", { class: "card narrow" }, heading, h("p", {}, intro), button) };
  }
  const userId = h("input", {
    type: "text",
    name: "userId",
    required: true,
    maxLength: 256,
    autocomplete: "username",
    value: "alice",
  });
  const admin = checkbox("Admin (member of the admins group)");
  const form = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        ctx.act(null, async () => {
          await ctx.session.signInLocally(userId.value.trim(), admin.querySelector("input").checked);
          ctx.navigate("");
        });
      },
    },
    field("User id", userId, "Any id: the local stack issues a token for it (its sub)."),
    admin,
    h("button", { type: "submit", text: "Sign in" }),
  );
  const intro =
    "The local stack signs tokens for any user. Sign in as the host of a meeting, or as an " +
    "admin to see every open meeting and the webhook deliveries.";
  return { heading, element: h("section", { class: "card narrow" }, heading, h("p", {}, intro), form) };
}
