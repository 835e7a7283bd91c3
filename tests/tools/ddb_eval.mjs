// Runs one DolphinDB script through the official `dolphindb` npm client and prints its result as
// JSON (the tests' own requests to the recorder, e.g. changing a landed row).
//
//   node ddb_eval.mjs --npm DIR --url ws://127.0.0.1:PORT --user U --password P --script TEXT
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The client's xshell dependency calls Promise.withResolvers, which node has only from 22 on.
Promise.withResolvers ??= () => {
  let resolve, reject;
  const promise = new Promise((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
};

const opts = { user: 'admin' };
for (let i = 2; i + 1 < process.argv.length; i += 2) opts[process.argv[i].slice(2)] = process.argv[i + 1];
const ddb = await import(pathToFileURL(path.join(opts.npm, 'node_modules', 'dolphindb', 'index.js')).href);
const c = new ddb.DDB(opts.url, { username: opts.user, password: opts.password });
c.print_message = false;
try {
  console.log(JSON.stringify(await c.execute(opts.script), (_, v) => (typeof v === 'bigint' ? String(v) : v)));
} finally {
  c.disconnect();
}
