// A loopback stand-in for a DolphinDB server, for the dolphindb sink's tests (Debian and npm ship
// no DolphinDB server). It speaks the API protocol over TCP (as finsync does) and over WebSocket
// (as the official `dolphindb` npm client does), decodes every request with that client's own
// decoder, records it, and answers the requests the sink makes, keeping the tables in memory:
//
//   connect/login                      the --user and --password given, else the server's error
//   version(), existsTable, defined(.., SHARED), existsDatabase guards
//   creating a HASH DFS database, a partitioned table, a dimension table, a shared (keyed) table
//   setColumnComment, addColumn, select ... from schema(t).colDefs
//   select sum(row_count) ... group by task_id, exec count(*) ... where commit_id = ...
//   select count(*) as n from t group by [sym, ]date(time) as d (verify)
//   truncate, delete from t [where col = v and ...]; update t set col = number where ... (the
//   tests' own edit of a landed row)
//   tableInsert{t}, upsert!{t,,ignoreNull=false[,keyColNames=`a`b]} with one table argument
//
// Anything else is answered with an error naming the script, so a test fails rather than
// passing over a request the recorder does not understand.
//
//   node ddb_recorder.mjs --npm DIR --log FILE --state FILE --ports FILE [--user U] [--password P]
//
// DIR holds node_modules/dolphindb (tests/tools/install_dolphindb_npm.sh). --log gets one JSON
// line per request: {conn, seq, transport, kind, session, text, args, hex}; hex is the whole
// request as sent. --state gets the tables as JSON after every change. --ports gets "TCP WS".
// SIGHUP restarts the TCP side as a server restart would: every connection is closed, nothing
// is accepted for 300 ms, then the same port listens again; tables stay (DFS tables are durable)
// and "restarted" is printed.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The client's xshell dependency calls Promise.withResolvers, which node has only from 22 on.
Promise.withResolvers ??= () => {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
};

const opts = { user: 'admin', password: '123456' };
for (let i = 2; i + 1 < process.argv.length; i += 2) opts[process.argv[i].slice(2)] = process.argv[i + 1];
for (const k of ['npm', 'log', 'state', 'ports'])
  if (!opts[k]) {
    console.error(`ddb_recorder: --${k} is required`);
    process.exit(64);
  }
const lib = async rel => import(pathToFileURL(path.join(opts.npm, 'node_modules', rel)).href);
const ddb = await lib('dolphindb/index.js');
const { WebSocketServer } = await lib('ws/wrapper.mjs');
const { DdbObj, DdbForm, DdbType } = ddb;

const tables = new Map();  // "dfs://db/t" or "t" -> {columns, types, key, comments, rows}
const databases = new Set();
let conns = 0, seq = 0;
const log = fs.openSync(opts.log, 'a');

// ---- the byte length of one encoded object at buf[off], or -1 when it is not all there yet
function objlen(buf, off) {
  const end = buf.length;
  if (off + 2 > end) return -1;
  const type = buf[off], form = buf[off + 1];
  let at = off + 2;
  const cstr = () => {
    const z = buf.indexOf(0, at);
    if (z < 0) return false;
    at = z + 1;
    return true;
  };
  const width = { 0: 0, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 4, 12: 8, 15: 4, 16: 8 };
  if (form === DdbForm.scalar) {
    if (type === DdbType.void) return at + 1 <= end ? at + 1 - off : -1;
    if (type === DdbType.string || type === DdbType.symbol) return cstr() ? at - off : -1;
    if (!(type in width)) throw new Error(`scalar of type ${type}`);
    return at + width[type] <= end ? at + width[type] - off : -1;
  }
  if (at + 8 > end) return -1;
  const rows = buf.readUInt32LE(at), cols = buf.readUInt32LE(at + 4);
  at += 8;
  if (form === DdbForm.table) {
    if (!cstr()) return -1;
    for (let i = 0; i < cols; i++) if (!cstr()) return -1;
    for (let i = 0; i < cols; i++) {
      const n = objlen(buf, at);
      if (n < 0) return -1;
      at += n;
    }
    return at - off;
  }
  if (form !== DdbForm.vector) throw new Error(`form ${form}`);
  if (type === DdbType.string || type === DdbType.symbol) {
    for (let i = 0; i < rows; i++) if (!cstr()) return -1;
    return at - off;
  }
  if (type === DdbType.symbol_extended) {
    if (at + 8 > end) return -1;
    const base = buf.readUInt32LE(at + 4);
    at += 8;
    for (let i = 0; i < base; i++) if (!cstr()) return -1;
    at += 4 * rows;
    return at <= end ? at - off : -1;
  }
  if (type === DdbType.any) {
    for (let i = 0; i < rows; i++) {
      const n = objlen(buf, at);
      if (n < 0) return -1;
      at += n;
    }
    return at - off;
  }
  if (!(type in width)) throw new Error(`vector of type ${type}`);
  at += width[type] * rows;
  return at <= end ? at - off : -1;
}

// ---- a decoded vector as {name, type, values}: JSON values, null for DolphinDB's nulls
const nulls = { 1: -128, 4: -0x80000000, 6: -0x80000000, 5: -0x8000000000000000n, 12: -0x8000000000000000n };
function plain(col) {
  let type = col.type, values;
  if (type === DdbType.symbol_extended) {
    values = Array.from(col.value.data, i => col.value.base[i]);
    type = DdbType.symbol;
  } else if (type === DdbType.string || type === DdbType.symbol) {
    values = [...col.value];
  } else {
    values = Array.from(col.value, v => v);
  }
  values = values.map(v => {
    if (type === DdbType.string || type === DdbType.symbol) return v === '' ? null : v;
    if (type === DdbType.double) return v === -Number.MAX_VALUE ? null : v;
    if (v === nulls[type]) return null;
    if (type === DdbType.bool) return v === 1;
    if (type === DdbType.date) return new Date(Number(v) * 86400000).toISOString().slice(0, 10);
    if (type === DdbType.timestamp) return new Date(Number(v)).toISOString();
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
  return { name: col.name, type: DdbType[type].toUpperCase(), values };
}
function plain_obj(o) {
  if (o.form === DdbForm.table) return { table: o.name, columns: o.value.map(plain) };
  if (o.form === DdbForm.scalar) return { scalar: DdbType[o.type], value: typeof o.value === 'bigint' ? o.value.toString() : o.value };
  return plain(o);
}

// ---- answers
const header = (sid, n) => Buffer.from(`${sid} ${n} 1\nOK\n`);
const answer = (sid, obj) => obj ? Buffer.concat([header(sid, 1), Buffer.from(obj.pack())]) : header(sid, 0);
const refuse = (sid, message) => Buffer.from(`${sid} 0 1\n${message}\n`);
const bool = b => new ddb.DdbBool(b);
const str = s => new ddb.DdbString(s);
const strings = (v, name) => new ddb.DdbVectorString(v, name);

function save() {
  const out = {};
  for (const [name, t] of tables) out[name] = t;
  fs.writeFileSync(opts.state + '.tmp', JSON.stringify({ databases: [...databases], tables: out }));
  fs.renameSync(opts.state + '.tmp', opts.state);
}

const ref = r => {
  let m = r.match(/^loadTable\("([^"]+)", "(\w+)"\)$/);
  if (m) return `${m[1]}/${m[2]}`;
  if (/^\w+$/.test(r)) return r;
  throw new Error(`not a table reference: ${r}`);
};
const table_of = r => {
  const t = tables.get(ref(r));
  if (!t) throw new Error(`no table ${ref(r)}`);
  return t;
};
const syms = s => s.split('`').filter(Boolean);
const types_of = s => s.split(',').map(x => x.trim());
const make = (name, columns, types, key) => {
  if (columns.length !== types.length) throw new Error(`${name}: ${columns.length} names, ${types.length} types`);
  tables.set(name, { columns, types, key, comments: {}, rows: [] });
};

// Script handlers: [pattern, (match) => answer object or null]. The sink's scripts, exactly.
const scripts = [
  [/^version\(\)$/, () => str('3.00.0 recorder')],
  [/^existsTable\("([^"]+)", "(\w+)"\)$/, m => bool(tables.has(`${m[1]}/${m[2]}`))],
  [/^defined\("(\w+)", SHARED\)$/, m => bool(tables.has(m[1]))],
  [/^if \(!existsDatabase\("([^"]+)"\)\) \{\n  database\("[^"]+", HASH, \[(\w+), (\d+)\]\)\n\}$/, m => {
    databases.add(m[1]);
    return null;
  }],
  [/^if \(!existsTable\("([^"]+)", "(\w+)"\)\) \{\n  createPartitionedTable\(database\("([^"]+)"\), table\(1:0, (\S+), \[([^\]]*)\]\), "(\w+)", `(\w+)\)\n  (setColumnComment\(.*\))\n\}$/, m => {
    if (!databases.has(m[3])) throw new Error(`no database ${m[3]}`);
    const name = `${m[1]}/${m[2]}`;
    if (!tables.has(name)) {
      make(name, syms(m[4]), types_of(m[5]), null);
      comment(m[8]);
    }
    return null;
  }],
  [/^if \(existsDatabase\("([^"]+)"\) && !existsTable\("[^"]+", "(\w+)"\)\) \{\n  createDimensionTable\(database\("[^"]+"\), table\(1:0, (\S+), \[([^\]]*)\]\), "\w+"\)\n\}$/, m => {
    const name = `${m[1]}/${m[2]}`;
    if (databases.has(m[1]) && !tables.has(name)) make(name, syms(m[3]), types_of(m[4]), null);
    return null;
  }],
  [/^if \(!defined\("(\w+)", SHARED\)\) \{\n  share (?:keyedTable\((\S+), 1:0, (\S+), \[([^\]]*)\]\)|table\(1:0, (\S+), \[([^\]]*)\]\)) as (\w+)(?:\n  (setColumnComment\(.*\)))?\n\}$/, m => {
    if (!tables.has(m[7])) {
      if (m[2]) make(m[7], syms(m[3]), types_of(m[4]), syms(m[2]));
      else make(m[7], syms(m[5]), types_of(m[6]), null);
      if (m[8]) comment(m[8]);
    }
    return null;
  }],
  [/^select name, typeString, comment from schema\((.+)\)\.colDefs$/, m => {
    const t = table_of(m[1]);
    return new ddb.DdbTable([strings(t.columns, 'name'), strings(t.types, 'typeString'),
      strings(t.columns.map(c => t.comments[c] ?? ''), 'comment')]);
  }],
  [/^addColumn\((.+), `(\w+), (\w+)\)$/, m => {
    const t = table_of(m[1]);
    if (t.columns.includes(m[2])) throw new Error(`The column ${m[2]} already exists`);
    t.columns.push(m[2]);
    t.types.push(m[3]);
    for (const r of t.rows) r.push(null);
    return null;
  }],
  [/^select sum\(row_count\) as row_count from (.+) where plan = "((?:[^"\\]|\\.)*)" group by task_id$/, m => {
    const t = table_of(m[1]);
    const plan = unquote(m[2]), ip = t.columns.indexOf('plan'), it = t.columns.indexOf('task_id'), ir = t.columns.indexOf('row_count');
    const sums = new Map();
    for (const r of t.rows) if (r[ip] === plan) sums.set(r[it], (sums.get(r[it]) ?? 0n) + BigInt(r[ir]));
    return new ddb.DdbTable([strings([...sums.keys()], 'task_id'), new ddb.DdbVectorLong([...sums.values()], 'row_count')]);
  }],
  [/^select count\(\*\) as n from (.+) group by (?:(\w+), )?date\((\w+)\) as d$/, m => {
    const t = table_of(m[1]);
    const is = m[2] ? t.columns.indexOf(m[2]) : -1, id = t.columns.indexOf(m[3]);
    if ((m[2] && is < 0) || id < 0) throw new Error(`no column ${is < 0 ? m[2] : m[3]}`);
    const day = v => (v === null ? null : Math.floor(Date.parse(v.length === 10 ? v + 'T00:00:00Z' : v) / 86400000));
    const groups = new Map();
    for (const r of t.rows) {
      const k = JSON.stringify([is < 0 ? '' : r[is], day(r[id])]);
      groups.set(k, (groups.get(k) ?? 0n) + 1n);
    }
    const keys = [...groups.keys()].map(k => JSON.parse(k));
    const cols = [];
    if (m[2]) cols.push(new ddb.DdbVectorSymbol(keys.map(k => k[0]), m[2]));
    cols.push(new DdbObj({ form: DdbForm.vector, type: DdbType.date, rows: keys.length, cols: 1,
      value: Int32Array.from(keys.map(k => (k[1] === null ? -2147483648 : k[1]))), name: 'd' }));
    cols.push(new ddb.DdbVectorLong([...groups.values()], 'n'));
    return new ddb.DdbTable(cols);
  }],
  [/^exec count\(\*\) from (.+) where commit_id = "((?:[^"\\]|\\.)*)"$/, m => {
    const t = table_of(m[1]);
    const ic = t.columns.indexOf('commit_id'), id = unquote(m[2]);
    return new ddb.DdbInt(t.rows.filter(r => r[ic] === id).length);
  }],
  [/^truncate\("([^"]+)", "(\w+)"\)$/, m => {
    table_of(`loadTable("${m[1]}", "${m[2]}")`).rows = [];
    return null;
  }],
  [/^delete from (.+?)(?: where (.+))?$/, m => {
    const t = table_of(m[1]), hit = where(t, m[2]);
    t.rows = t.rows.filter(r => !hit(r));
    return null;
  }],
  // Not a script of the sink: the tests change a landed value with it.
  [/^update (.+?) set (\w+) = (-?[\d.]+) where (.+)$/, m => {
    const t = table_of(m[1]), hit = where(t, m[4]), c = t.columns.indexOf(m[2]);
    if (c < 0) throw new Error(`no column ${m[2]}`);
    for (const r of t.rows) if (hit(r)) r[c] = Number(m[3]);
    return null;
  }],
];
const unquote = s => s.replace(/\\(.)/g, '$1');
// A where clause of `col = "text"`, `col = 123`, `col = 2024.01.31` and `col between D1 : D2`
// conditions joined by `and`, as a row predicate (none: every row).
function where(t, text) {
  const date = (y, m, d) => `${y}-${m}-${d}`;
  const conds = (text ?? '').split(' and ').filter(Boolean).map(c => {
    const col = name => {
      const i = t.columns.indexOf(name);
      if (i < 0) throw new Error(`no column ${name}`);
      return i;
    };
    let x = c.match(/^(\w+) = "((?:[^"\\]|\\.)*)"$/);
    if (x) return r => r[col(x[1])] === unquote(x[2]);
    x = c.match(/^(\w+) = (\d{4})\.(\d\d)\.(\d\d)$/);
    if (x) return r => r[col(x[1])] === date(x[2], x[3], x[4]);
    x = c.match(/^(\w+) = (-?\d+)$/);
    if (x) return r => String(r[col(x[1])]) === x[2];
    x = c.match(/^(\w+) between (\d{4})\.(\d\d)\.(\d\d) : (\d{4})\.(\d\d)\.(\d\d)$/);
    if (x) {
      const lo = date(x[2], x[3], x[4]), hi = date(x[5], x[6], x[7]);
      return r => { const v = r[col(x[1])]; return v !== null && v >= lo && v <= hi; };
    }
    throw new Error(`condition ${c}`);
  });
  return r => conds.every(f => f(r));
}
function comment(script) {
  const m = script.match(/^setColumnComment\((.+), dict\((\S+), \[(.*)\]\)\)$/);
  if (!m) throw new Error(`comment ${script}`);
  const t = table_of(m[1]);
  const texts = [...m[3].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(x => unquote(x[1]));
  syms(m[2]).forEach((c, i) => { t.comments[c] = texts[i]; });
}

// Function handlers: the table argument lands in the table.
function land(fn, args) {
  let m = fn.match(/^tableInsert\{(.+)\}$/);
  let key = null, t;
  if (m) t = table_of(m[1]);
  else {
    m = fn.match(/^upsert!\{(.+),,ignoreNull=false(?:,keyColNames=(\S+))?\}$/);
    if (!m) throw new Error(`function ${fn}`);
    t = table_of(m[1]);
    key = m[2] ? syms(m[2]) : t.key;
    if (!key) throw new Error(`upsert! into ${m[1]}: a table without a key needs keyColNames`);
  }
  if (args.length !== 1 || args[0].form !== DdbForm.table) throw new Error(`${fn}: expected one table argument`);
  const cols = args[0].value.map(plain);
  cols.forEach((c, i) => {
    if (c.name !== t.columns[i] || c.type !== t.types[i])
      throw new Error(`column ${i + 1} is ${c.name} ${c.type}, the table has ${t.columns[i]} ${t.types[i]}`);
  });
  if (cols.length !== t.columns.length) throw new Error(`${cols.length} columns, the table has ${t.columns.length}`);
  const n = args[0].rows;
  const rows = Array.from({ length: n }, (_, r) => cols.map(c => c.values[r]));
  if (!key) {
    t.rows.push(...rows);
    return new ddb.DdbInt(n);
  }
  const ki = key.map(k => t.columns.indexOf(k));
  const at = new Map(t.rows.map((r, i) => [JSON.stringify(ki.map(k => r[k])), i]));
  for (const r of rows) {
    const k = JSON.stringify(ki.map(i => r[i]));
    if (at.has(k)) t.rows[at.get(k)] = r;
    else {
      at.set(k, t.rows.length);
      t.rows.push(r);
    }
  }
  return null;
}

// ---- one request (the whole message, header line included) -> the answer's bytes
function handle(conn, transport, msg, state) {
  const nl = msg.indexOf(0x0a);
  const head = msg.subarray(0, nl).toString().split(' ');
  const len = Number(head[2]);
  const command = msg.subarray(nl + 1, nl + 1 + len).toString();
  const lines = command.split('\n');
  const kind = lines[0];
  const entry = { conn, seq: ++seq, transport, kind, session: head[1], options: head[4], text: command, args: [], hex: msg.toString('hex') };
  let reply;
  try {
    if (kind === 'connect') {
      state.sid = String(1000 + conn);
      const ok = lines[1] === 'login' && lines[2] === opts.user && lines[3] === opts.password;
      reply = ok ? answer(state.sid, null) : refuse(state.sid, 'The user name or password is incorrect.');
    } else if (kind === 'script') {
      const script = command.slice('script\n'.length);
      const h = scripts.find(([re]) => re.test(script));
      if (!h) throw new Error(`the recorder does not know the script: ${script}`);
      reply = answer(state.sid, h[1](script.match(h[0])));
      if (!/^(version|exists|defined|select|exec)/.test(script)) save();
    } else if (kind === 'function') {
      const n = Number(lines[2]);
      let off = nl + 1 + len;
      const args = [];
      for (let i = 0; i < n; i++) {
        const o = DdbObj.parse(new Uint8Array(msg.buffer, msg.byteOffset + off, msg.length - off), true);
        args.push(o);
        off += o.length;
      }
      entry.args = args.map(plain_obj);
      reply = answer(state.sid, land(lines[1], args));
      save();
    } else {
      throw new Error(`the recorder does not know the command ${kind}`);
    }
  } catch (e) {
    entry.error = e.message;
    reply = refuse(state.sid ?? '0', `recorder: ${e.message}`);
  }
  fs.writeSync(log, JSON.stringify(entry) + '\n');
  return reply;
}

// TCP: requests may arrive in pieces; a request is complete when its header, command and
// arguments are all there.
function complete(buf) {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return -1;
  const head = buf.subarray(0, nl).toString().split(' ');
  const len = Number(head[2]);
  let at = nl + 1 + len;
  if (buf.length < at) return -1;
  const lines = buf.subarray(nl + 1, at).toString().split('\n');
  const n = lines[0] === 'function' ? Number(lines[2]) : 0;
  for (let i = 0; i < n; i++) {
    const l = objlen(buf, at);
    if (l < 0) return -1;
    at += l;
  }
  return at;
}

const sockets = new Set();
const tcp = net.createServer(sock => {
  const conn = ++conns, state = {};
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  let buf = Buffer.alloc(0);
  sock.on('data', d => {
    buf = Buffer.concat([buf, d]);
    for (let end; (end = complete(buf)) > 0;) {
      const msg = buf.subarray(0, end);
      buf = buf.subarray(end);
      sock.write(handle(conn, 'tcp', Buffer.from(msg), state));
    }
  });
  sock.on('error', () => {});
});
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('connection', ws => {
  const conn = ++conns, state = {};
  ws.on('message', data => ws.send(handle(conn, 'ws', Buffer.from(data), state)));
});
await new Promise(r => tcp.listen(0, '127.0.0.1', r));
await new Promise(r => (wss.address() ? r() : wss.on('listening', r)));
save();
fs.writeFileSync(opts.ports, `${tcp.address().port} ${wss.address().port}\n`);
process.on('SIGTERM', () => process.exit(0));
process.on('SIGHUP', () => {
  const port = tcp.address().port;
  tcp.close();
  for (const sock of sockets) sock.destroy();
  setTimeout(() => tcp.listen(port, '127.0.0.1', () => console.log('restarted')), 300);
});
