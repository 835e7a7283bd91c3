// Replays the requests of a recorder log (tests/tools/ddb_recorder.mjs) through the official
// `dolphindb` npm client, over WebSocket to a second recorder: the same logical calls, in the same
// order and on as many connections (connect and log in, run each script, call each function with
// its table argument rebuilt from the values the recorder decoded, typed as decoded). The second
// recorder's log then holds the bytes the official client sends for those calls.
//
//   node ddb_replay.mjs --npm DIR --log FILE --url ws://127.0.0.1:PORT
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The client's xshell dependency calls Promise.withResolvers, which node has only from 22 on.
Promise.withResolvers ??= () => {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
};

const opts = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) opts[process.argv[i].slice(2)] = process.argv[i + 1];
const ddb = await import(pathToFileURL(path.join(opts.npm, 'node_modules', 'dolphindb', 'index.js')).href);
const { DDB, DdbObj, DdbForm, DdbType, DdbTable } = ddb;

const day = iso => Math.round(Date.parse(iso + 'T00:00:00Z') / 86400000);
function vector({ name, type, values }) {
  const raw = (t, array, nul, f) => new DdbObj({ form: DdbForm.vector, type: t, rows: values.length, cols: 1, name,
    value: array.from(values, v => (v === null ? nul : f(v))) });
  switch (type) {
    case 'SYMBOL': return new ddb.DdbVectorSymbol(values.map(v => v ?? ''), name);
    case 'STRING': return new ddb.DdbVectorString(values.map(v => v ?? ''), name);
    case 'INT': return new ddb.DdbVectorInt(values, name);
    case 'LONG': return new ddb.DdbVectorLong(values, name);
    case 'DOUBLE': return new ddb.DdbVectorDouble(values, name);
    case 'BOOL': return new ddb.DdbVectorBool(values, name);
    case 'DATE': return raw(DdbType.date, Int32Array, -0x80000000, day);
    case 'TIMESTAMP': return raw(DdbType.timestamp, BigInt64Array, -0x8000000000000000n, v => BigInt(Date.parse(v)));
  }
  throw new Error(`replay: no vector of type ${type}`);
}
const arg = a => {
  if (a.table !== undefined) return new DdbTable(a.columns.map(vector), a.table);
  throw new Error(`replay: argument ${JSON.stringify(a).slice(0, 80)}`);
};

const entries = fs.readFileSync(opts.log, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l));
const clients = new Map();
for (const e of entries) {
  if (e.kind === 'connect') {
    const [, , user, password] = e.text.split('\n');
    const c = new DDB(opts.url, { username: user, password });
    c.print_message = false;
    clients.set(e.conn, c);
    await c.connect().catch(() => {});
    continue;
  }
  const c = clients.get(e.conn);
  try {
    if (e.kind === 'script') await c.eval(e.text.slice('script\n'.length));
    else await c.call(e.text.split('\n')[1], e.args.map(arg));
  } catch {
    // The recorder answered an error: it answers the replay's request the same way.
  }
}
for (const c of clients.values()) c.disconnect();
