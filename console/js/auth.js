// Who is signed in. The bearer token lives in sessionStorage (this tab only, gone with it) and
// is never written to the page, the console or a URL.
//
// Local stack: any user id, a token from the local issuer (POST /_local/token).
// Deployed: the user pool's hosted UI, authorization code with PKCE (S256) and a state check.

const TOKEN_KEY = "meetings-console.token";
const PKCE_KEY = "meetings-console.pkce";
const ADMIN_GROUP = "admins";

function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

function groupsOf(claims) {
  const groups = claims["cognito:groups"] ?? [];
  if (Array.isArray(groups)) return groups;
  return String(groups).replace(/^\[|\]$/g, "").split(/[\s,]+/).filter(Boolean);
}

export class Session {
  constructor(config) {
    this.config = config;
  }

  // The signed-in user ({token, userId, isAdmin}), or null (none, or the token expired).
  current() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const claims = token ? claimsOf(token) : null;
    if (!claims || (claims.exp && claims.exp * 1000 <= Date.now())) {
      sessionStorage.removeItem(TOKEN_KEY);
      return null;
    }
    return { token, userId: claims.sub, isAdmin: groupsOf(claims).includes(ADMIN_GROUP) };
  }

  async signInLocally(userId, admin) {
    const answer = await fetch(`${this.config.apiUrl}/_local/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sub: userId, groups: admin ? [ADMIN_GROUP] : [] }),
    });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.message || `the local issuer answered ${answer.status}`);
    sessionStorage.setItem(TOKEN_KEY, body.token);
  }

  // Deployed: off to the hosted UI; the page comes back with ?code=…&state=….
  async startHostedSignIn() {
    const auth = this.config.auth;
    const verifier = randomText(48);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
    const state = randomText(16);
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: auth.clientId,
      redirect_uri: auth.redirectUri,
      scope: auth.scope,
      state,
      code_challenge: base64url(new Uint8Array(digest)),
      code_challenge_method: "S256",
    });
    window.location.assign(`${auth.authorizeUrl}?${query}`);
  }

  // Back from the hosted UI: the code exchanged for tokens, the query taken off the address.
  async completeHostedSignIn() {
    const query = new URLSearchParams(window.location.search);
    const code = query.get("code");
    if (this.config.auth.kind !== "cognito" || !(code || query.get("error"))) return;
    window.history.replaceState(null, "", window.location.pathname + window.location.hash);
    const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    if (query.get("error")) throw new Error(`sign-in failed: ${query.get("error")}`);
    if (!pending || pending.state !== query.get("state")) {
      throw new Error("sign-in failed: the answer does not match this browser's request");
    }
    const auth = this.config.auth;
    const answer = await fetch(auth.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: auth.clientId,
        code,
        redirect_uri: auth.redirectUri,
        code_verifier: pending.verifier,
      }),
    });
    const tokens = await answer.json().catch(() => ({}));
    if (!answer.ok || !tokens.access_token) throw new Error("sign-in failed: no token issued");
    sessionStorage.setItem(TOKEN_KEY, tokens.access_token);
  }

  // The API refused the token (expired, or signed by a key it no longer trusts).
  forget() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  signOut() {
    this.forget();
    const auth = this.config.auth;
    if (auth.kind === "cognito" && auth.logoutUrl) {
      const query = new URLSearchParams({ client_id: auth.clientId, logout_uri: auth.redirectUri });
      window.location.assign(`${auth.logoutUrl}?${query}`);
    }
  }
}
