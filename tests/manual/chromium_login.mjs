// One-off check (issue 15, Done-when 4): the local IdP's login page works in a real headless browser.
//   node tests/manual/chromium_login.mjs http://127.0.0.1:8080   (Node >= 22, Debian's chromium, `make run` up)
// Registers a client (RFC 7591), opens /authorize in headless Chromium, types an e-mail into the plain HTML form
// and presses "Sign in" like a person would (the page itself runs no JavaScript; CDP only drives the browser),
// catches the redirect on a loopback listener, redeems the code with the PKCE verifier and lists the tools.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

const gateway = process.argv[2] ?? "http://127.0.0.1:8080";
const email = process.env.MCP_LOGIN_EMAIL ?? "chromium@example.com";
const b64url = (buf) => buf.toString("base64url");
const verifier = b64url(randomBytes(48));
const challenge = b64url(createHash("sha256").update(verifier).digest());

let arrived;
const landing = new Promise((resolve) => { arrived = resolve; });
const listener = createServer((req, res) => {
  res.end("signed in; you may close this window");
  arrived({ url: new URL(req.url, "http://127.0.0.1"), srv: listener });
});
await new Promise((r) => listener.listen(0, "127.0.0.1", r));
const redirectUri = `http://127.0.0.1:${listener.address().port}/cb`;

const reg = await (await fetch(`${gateway}/register`, {
  method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ redirect_uris: [redirectUri], client_name: "chromium check", token_endpoint_auth_method: "none" }),
})).json();
const authorize = `${gateway}/authorize?` + new URLSearchParams({
  response_type: "code", client_id: reg.client_id, redirect_uri: redirectUri, state: "chromium-state",
  code_challenge: challenge, code_challenge_method: "S256", resource: `${gateway}/mcp`, scope: "aws.read",
});

const profile = mkdtempSync(join(tmpdir(), "chromium-"));
const chrome = spawn(process.env.CHROMIUM ?? "chromium", [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });
const wsUrl = await new Promise((resolve, reject) => {
  let err = "";
  chrome.stderr.on("data", (d) => {
    err += d;
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
    if (m) resolve(m[1]);
  });
  setTimeout(() => reject(new Error("chromium did not start: " + err)), 20000);
});
const port = new URL(wsUrl).port;
const page = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()).find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r));
let id = 0;
const pending = new Map();
const events = [];
ws.addEventListener("message", (m) => {
  const msg = JSON.parse(m.data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); } else events.push(msg);
});
const send = (method, params = {}) => new Promise((r) => { const n = ++id; pending.set(n, r); ws.send(JSON.stringify({ id: n, method, params })); });
const loaded = () => new Promise((r) => { const t = setInterval(() => { const i = events.findIndex((e) => e.method === "Page.loadEventFired"); if (i >= 0) { events.splice(i, 1); clearInterval(t); r(); } }, 50); });

await send("Page.enable");
await send("Page.navigate", { url: authorize });
await loaded();
const title = (await send("Runtime.evaluate", { expression: "document.title", returnByValue: true })).result.result.value;
const scripts = (await send("Runtime.evaluate", { expression: "document.scripts.length", returnByValue: true })).result.result.value;
console.log(`login page: "${title}" (${scripts} scripts on the page)`);
await send("Runtime.evaluate", { expression: `document.getElementById("email").value = ${JSON.stringify(email)}; document.getElementById("sign-in").click();` });
const { url, srv } = await landing;
srv.close();
console.log(`redirected to the client: state=${url.searchParams.get("state")} iss=${url.searchParams.get("iss")} code=${url.searchParams.get("code") ? "yes" : "no"}`);
ws.close();
chrome.kill();

const tok = await (await fetch(`${gateway}/oauth/token`, {
  method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ grant_type: "authorization_code", code: url.searchParams.get("code"), redirect_uri: redirectUri, client_id: reg.client_id, code_verifier: verifier, resource: `${gateway}/mcp` }),
})).json();
if (!tok.access_token) { console.error("token exchange failed", tok); process.exit(1); }
const list = await fetch(`${gateway}/mcp`, {
  method: "POST",
  headers: { authorization: `Bearer ${tok.access_token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
});
const tools = (await list.json()).result.tools.map((t) => t.name);
console.log(`tools/list as ${email}: ${list.status}, ${tools.length} tools (${tools.slice(0, 3).join(", ")}, ...)`);
process.exit(list.status === 200 && url.searchParams.get("state") === "chromium-state" ? 0 : 1);
