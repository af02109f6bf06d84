// A deliberately tiny HTTP API over the example schema, used as "the running
// application" while migtool applies migrations: it must keep answering
// before, during and after each migration of prisma/migrations/.
//
// By default it works against every schema version of the history: it never
// names the "phone" column unless the client sends one, and it selects `*`.
// With USER_COLUMNS set (e.g. "id,email,name,createdAt,phone") it behaves as a
// Prisma Client generated for that model does: it names exactly those columns
// in every SELECT and RETURNING, so a dropped or renamed column breaks it the
// way it breaks a real Prisma app (what `migtool rehearse` relies on).
//
//   GET   /health      200 {"status":"ok"} when the database answers, else 503
//   GET   /users       200 [{id, email, name, createdAt, phone?}, ...] (oldest first)
//   GET   /users/:id   200 user, 404 when there is none
//   POST  /users       {"email": "...", "name": "...", "phone": "..."?} -> 201 user
//   PATCH /users/:id   {"name": "..."?, "phone": "..."?} -> 200 user, 404
//
// Configuration: DATABASE_URL (required), PORT (default 3000), HOST
// (default 0.0.0.0), USER_COLUMNS (optional, see above).
"use strict";

const http = require("node:http");
const { Pool } = require("pg");

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || "0.0.0.0";
const MAX_BODY_BYTES = 64 * 1024;
const USERS_LIMIT = 1000;
const USER_COLUMNS = (process.env.USER_COLUMNS || "")
  .split(",")
  .map((c) => c.trim())
  .filter(Boolean);
// What every query selects and returns: the model's columns, quoted, or `*`.
const SELECTED = USER_COLUMNS.length ? USER_COLUMNS.map((c) => `"${c.replace(/"/g, '""')}"`).join(", ") : "*";

if (!process.env.DATABASE_URL) {
  console.error("DATABASE_URL is not set (postgresql://USER:PASSWORD@HOST:5432/DB)");
  process.exit(2);
}

const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: 5,
  connectionTimeoutMillis: 5000,
  // A migration holding a lock must not make requests hang forever.
  statement_timeout: 10000,
});
pool.on("error", (err) => log("idle database connection error:", err.message));

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}

function send(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error("request body too large"), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {});
      } catch {
        reject(Object.assign(new Error("body is not valid JSON"), { status: 400 }));
      }
    });
    req.on("error", reject);
  });
}

async function health(_req, res) {
  try {
    await pool.query("SELECT 1");
    send(res, 200, { status: "ok" });
  } catch (err) {
    send(res, 503, { status: "unavailable", error: err.message });
  }
}

async function listUsers(_req, res) {
  const { rows } = await pool.query(`SELECT ${SELECTED} FROM "User" ORDER BY "id" LIMIT ${USERS_LIMIT}`);
  send(res, 200, rows);
}

function userId(params) {
  const id = Number(params.id);
  if (!Number.isInteger(id) || id < 1) throw Object.assign(new Error("id must be a positive integer"), { status: 400 });
  return id;
}

async function getUser(req, res, params) {
  const { rows } = await pool.query(`SELECT ${SELECTED} FROM "User" WHERE "id" = $1`, [userId(params)]);
  if (!rows.length) return send(res, 404, { error: "no such user" });
  send(res, 200, rows[0]);
}

async function updateUser(req, res, params) {
  const id = userId(params);
  const body = (await readJson(req)) || {};
  const sets = [];
  const values = [];
  for (const key of ["name", "phone"]) {
    if (body[key] === undefined) continue;
    if (body[key] !== null && typeof body[key] !== "string") return send(res, 400, { error: `${key} must be a string` });
    values.push(body[key]);
    sets.push(`"${key}" = $${values.length}`);
  }
  if (!sets.length) return send(res, 400, { error: "nothing to update (name, phone)" });
  values.push(id);
  const { rows } = await pool.query(
    `UPDATE "User" SET ${sets.join(", ")} WHERE "id" = $${values.length} RETURNING ${SELECTED}`,
    values,
  );
  if (!rows.length) return send(res, 404, { error: "no such user" });
  send(res, 200, rows[0]);
}

async function createUser(req, res) {
  const body = await readJson(req);
  const { email, name = null, phone } = body || {};
  if (typeof email !== "string" || !email.includes("@")) {
    return send(res, 400, { error: "email is required and must contain @" });
  }
  if (name !== null && typeof name !== "string") {
    return send(res, 400, { error: "name must be a string" });
  }
  if (phone !== undefined && typeof phone !== "string") {
    return send(res, 400, { error: "phone must be a string" });
  }
  const columns = ['"email"', '"name"'];
  const values = [email, name];
  if (phone !== undefined) {
    columns.push('"phone"');
    values.push(phone);
  }
  const placeholders = values.map((_, i) => `$${i + 1}`).join(", ");
  try {
    const { rows } = await pool.query(
      `INSERT INTO "User" (${columns.join(", ")}) VALUES (${placeholders}) RETURNING ${SELECTED}`,
      values,
    );
    send(res, 201, rows[0]);
  } catch (err) {
    if (err.code === "23505") return send(res, 409, { error: `email already exists: ${email}` });
    throw err;
  }
}

const routes = {
  "GET /health": health,
  "GET /users": listUsers,
  "POST /users": createUser,
  "GET /users/:id": getUser,
  "PATCH /users/:id": updateUser,
};

function route(method, path) {
  const exact = routes[`${method} ${path}`];
  if (exact) return [exact, {}];
  const m = path.match(/^\/users\/([^/]+)$/);
  if (m && routes[`${method} /users/:id`]) return [routes[`${method} /users/:id`], { id: decodeURIComponent(m[1]) }];
  return [null, {}];
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, "http://localhost").pathname.replace(/\/+$/, "") || "/";
  const [handler, params] = route(req.method, path);
  const started = Date.now();
  try {
    if (!handler) {
      send(res, 404, { error: `no route for ${req.method} ${path}` });
    } else {
      await handler(req, res, params);
    }
  } catch (err) {
    const status = err.status || 500;
    if (status >= 500) log(`${req.method} ${path} failed:`, err.message);
    if (!res.headersSent) send(res, status, { error: err.message, code: err.code });
  } finally {
    if (path !== "/health") log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`);
  }
});

function shutdown(signal) {
  log(`${signal} received, shutting down`);
  server.close(() => {
    pool.end().finally(() => process.exit(0));
  });
  // Keep-alive connections would hold close() open.
  server.closeIdleConnections?.();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

server.listen(PORT, HOST, () => log(`example app listening on http://${HOST}:${PORT}`));
