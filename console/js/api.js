// The public API (docs/api.md) with the signed-in user's bearer token, and the local stack's
// /_local/ control routes for the simulation panel. Failures become ApiError with the API's
// error code and message (or API Gateway's {"message"}).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(baseUrl, tokenOf, onUnauthorized) {
    this.baseUrl = baseUrl;
    this.tokenOf = tokenOf;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { accept: "application/json" };
    const token = this.tokenOf();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const answer = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await answer.text();
    const payload = text ? JSON.parse(text) : null;
    if (answer.ok) return payload;
    if (answer.status === 401 && !path.startsWith("/_local/")) this.onUnauthorized();
    const error = payload?.error;
    throw new ApiError(
      answer.status,
      error?.code ?? String(answer.status),
      error?.message ?? payload?.message ?? `${method} ${path} answered ${answer.status}`,
    );
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  del(path) {
    return this.request("DELETE", path);
  }
}
