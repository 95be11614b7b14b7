// A Node receiver's check of the backend's webhook deliveries, with the Standard Webhooks
// library and this machine's clock. stdin: {"deliveries": [{"secret", "headers", "body"}, ...]};
// stdout: the verified payloads' types, in order (a failed verification throws: exit 1).
const { Webhook } = require("standardwebhooks");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));

const types = input.deliveries.map(({ secret, headers, body }) => {
  const payload = new Webhook(secret).verify(body, headers);
  return payload.type;
});
process.stdout.write(JSON.stringify(types));
