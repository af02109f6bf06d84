// Prisma CLI configuration.
//
// The CLI runs its schema engine as WebAssembly with the `pg` driver adapter
// (`engine: "js"`), so no native engine binary is downloaded or executed for
// `migrate deploy`, `migrate status` and `migrate resolve`. That matters for
// offline / air-gapped machines and small images.
//
// Two bugs of @prisma/adapter-pg 6.19.3 are worked around below, so that the
// adapter behaves like Prisma's native schema engine:
//  1. executeScript() splits a migration on ";" and sends each piece as its
//     own query. That breaks `$$ ... $$` bodies (DO blocks, functions) and runs
//     the pieces outside one implicit transaction. The native engine sends the
//     whole file as ONE simple-protocol query: we do the same.
//  2. Result columns of type `name` (and `"char"`, `name[]`) are rejected with
//     UnsupportedNativeDataType (prisma/orm#27403); `migrate status`/`deploy`
//     hit that on catalog queries. We report them as text, which is what their
//     values are.
// And two differences from the native engine's process model:
//  3. The native engine uses ONE connection; the adapter a pool. Migrate takes
//     a session-level advisory lock (pg_advisory_lock) and migrations may SET
//     session settings (lock_timeout), so we use a pool of one connection.
//  4. The WebAssembly engine races `SELECT pg_advisory_lock(...)` against a
//     10 s timer and never clears that timer once the lock is granted (its JS
//     glue has setTimeout but no clearTimeout), which keeps the CLI process
//     alive for 10 s after `migrate deploy`/`resolve` are done. Once the lock
//     query has succeeded we unref the engine's pending timers: they still
//     fire if the process is alive, they just no longer keep it alive.
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

// PostgreSQL type OIDs (pg_type.oid); stable across versions.
const OID_CHAR = 18; // "char"
const OID_NAME = 19; // name
const OID_TEXT = 25;
const OID_NAME_ARRAY = 1003;
const OID_TEXT_ARRAY = 1009;
const AS_TEXT: Record<number, number> = {
  [OID_CHAR]: OID_TEXT,
  [OID_NAME]: OID_TEXT,
  [OID_NAME_ARRAY]: OID_TEXT_ARRAY,
};

type PgResult = { fields: Array<{ dataTypeID: number }> } | undefined;
type Queryable = {
  performIO: (query: unknown) => Promise<PgResult>;
  client: { query: (sql: string) => Promise<unknown> };
  onError: (error: unknown) => never;
};

// Timers created by the WebAssembly engine that have not fired yet (item 4).
const wasmTimers = new Set<ReturnType<typeof setTimeout>>();
{
  const setTimeoutOrig = globalThis.setTimeout;
  const patched = function (this: unknown, callback: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) {
    if (typeof callback !== "function" || !/wasm:\/\//.test(new Error().stack ?? "")) {
      return setTimeoutOrig.call(this, callback, ms, ...rest);
    }
    const timer = setTimeoutOrig.call(this, (...a: unknown[]) => {
      wasmTimers.delete(timer);
      callback(...a);
    }, ms, ...rest);
    wasmTimers.add(timer);
    return timer;
  };
  // Keep what util.promisify(setTimeout) relies on.
  const custom = Symbol.for("nodejs.util.promisify.custom");
  Object.defineProperty(patched, custom, {
    value: (setTimeoutOrig as unknown as Record<symbol, unknown>)[custom],
    configurable: true,
  });
  globalThis.setTimeout = patched as typeof setTimeout;
}

function isAdvisoryLock(query: unknown): boolean {
  const sql = (query as { sql?: unknown } | undefined)?.sql;
  return typeof sql === "string" && /\bpg_advisory_lock\s*\(/i.test(sql);
}

// Items 2 and 4, on every query result of an adapter or transaction.
function patchQueries(queryable: Queryable): void {
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    if (isAdvisoryLock(query)) {
      for (const timer of wasmTimers) timer.unref();
    }
    for (const field of result?.fields ?? []) {
      const asText = AS_TEXT[field.dataTypeID];
      if (asText !== undefined) field.dataTypeID = asText;
    }
    return result;
  };
}

// Patch one adapter instance (and the transactions it starts).
function patchAdapter<T extends object>(adapter: T): T {
  const a = adapter as unknown as Queryable & {
    executeScript: (script: string) => Promise<void>;
    startTransaction: (...args: unknown[]) => Promise<unknown>;
  };
  if (typeof a.performIO !== "function" || typeof a.client?.query !== "function") {
    throw new Error(
      "prisma.config.ts: @prisma/adapter-pg internals changed; review the workarounds in this file",
    );
  }
  patchQueries(a);
  a.executeScript = async (script: string) => {
    try {
      await a.client.query(script);
    } catch (error) {
      a.onError(error);
    }
  };
  const startTransaction = a.startTransaction.bind(a);
  a.startTransaction = async (...args: unknown[]) => {
    const tx = (await startTransaction(...args)) as Queryable;
    patchQueries(tx);
    return tx;
  };
  return adapter;
}

function patchFactory(factory: PrismaPg): PrismaPg {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => patchAdapter(await connect());
  const connectToShadowDb = factory.connectToShadowDb.bind(factory);
  factory.connectToShadowDb = async () => patchAdapter(await connectToShadowDb());
  return factory;
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error("DATABASE_URL is not set (postgresql://USER:PASSWORD@HOST:5432/DB)");
  }
  return url;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  async adapter() {
    // allowExitOnIdle: the CLI does not close the pool when it is done; without
    // this the process lingers for pg's idle timeout (10 s) before exiting.
    return patchFactory(new PrismaPg({ connectionString: databaseUrl(), max: 1, allowExitOnIdle: true }));
  },
});
