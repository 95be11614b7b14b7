// A Node receiver's check of the backend's webhook deliveries, with the Standard Webhooks
// library. stdin: {"worldOffsetMs": n, "deliveries": [{"secret", "headers", "body"}, ...]};
// stdout: the verified payloads' types, in order (a failed verification throws: exit 1).
// worldOffsetMs: the local stack's world clock runs ahead of real time by this much, and the
// backend signs with the world's time; the receiver here lives in the same world.
const { Webhook } = require("standardwebhooks");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const realNow = Date.now;
Date.now = () => realNow() + input.worldOffsetMs;

const types = input.deliveries.map(({ secret, headers, body }) => {
  const payload = new Webhook(secret).verify(body, headers);
  return payload.type;
});
process.stdout.write(JSON.stringify(types));
