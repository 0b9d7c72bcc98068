// faults_check.js — tedious against tdstestd's faults and cancellation.
// run.sh installs tedious into a local node_modules and sets NODE_PATH.
//
//   node faults_check.js --port P --user U --password PW --database DB
//
// Each check uses its own connection and the `narrow` table (1,000,000
// generated rows: id = i + 1, big = i * 1000003, name = 'name-' + (i + 1),
// val = i / 4). Printed as "ok"/"FAIL" lines; exit status 1 when any
// check failed. Every wait is bounded, so a server that never answers
// fails the check instead of hanging the script.
//   cancel     ATTENTION after 1000 rows of a 1M-row result: tedious gets
//              ECANCEL (the server's DONE_ATTN), and the same connection
//              then answers the next query.
//   error      @error_after_rows = 5: 5 rows, then error 50000; cleared,
//              the connection works again.
//   close      @close_after_bytes = 20000: the connection drops mid-result
//              and tedious reports it (no hang).
//   drip       @drip = 1: the reply arrives one byte at a time and every
//              value is still right.
//   stall      @stall = 1: nothing arrives; tedious's request timeout fires.
//   malformed  @malformed_after_rows = 3: tedious rejects the invalid token.
'use strict';

const { Connection, Request } = require('tedious');

function args() {
  const a = { host: '127.0.0.1' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  return a;
}

const a = args();
let failed = 0;
const ok = (m) => console.log(`faults: ok   ${m}`);
const bad = (m) => { console.log(`faults: FAIL ${m}`); failed++; };

function within(ms, what, p) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no answer in ${ms} ms`)), ms); }),
  ]);
}

function connect(extra) {
  return new Promise((resolve, reject) => {
    const conn = new Connection({
      server: a.host,
      authentication: { type: 'default', options: { userName: a.user, password: a.password } },
      options: Object.assign({
        port: Number(a.port), database: a.database, encrypt: false,
        connectTimeout: 10000, requestTimeout: 30000, cancelTimeout: 5000,
      }, extra || {}),
    });
    conn.on('error', () => {}); // reported through the request callbacks
    conn.on('connect', (err) => (err ? reject(err) : resolve(conn)));
    conn.connect();
  });
}

// exec(conn, sql, onRow) -> { err, rows, infos, errors } (never rejects)
function exec(conn, sql, onRow) {
  return new Promise((resolve) => {
    const res = { rows: [], errors: [] };
    const req = new Request(sql, (err) => { res.err = err; resolve(res); });
    req.on('row', (cols) => {
      const r = cols.map((c) => c.value);
      res.rows.push(r);
      if (onRow) onRow(r, req);
    });
    conn.on('errorMessage', (m) => res.errors.push(m));
    conn.execSql(req);
  });
}

function expectNarrow(rows, first) {
  for (let k = 0; k < rows.length; k++) {
    const i = first + k;
    const r = rows[k];
    if (r[0] !== i + 1 || String(r[1]) !== String(BigInt(i) * 1000003n) ||
        r[2] !== `name-${i + 1}` || r[3] !== i / 4)
      return `row ${i}: ${JSON.stringify(r)}`;
  }
  return null;
}

async function checkCancel() {
  const conn = await connect();
  try {
    let cancelled = false;
    const res = await within(20000, 'cancel', exec(conn, 'SELECT * FROM narrow', (r, req) => {
      if (!cancelled && r[0] >= 1000) { cancelled = true; conn.cancel(); }
    }));
    const code = res.err && res.err.code;
    if (code !== 'ECANCEL') return bad(`cancel: expected ECANCEL, got ${res.err ? res.err.message : 'no error'} after ${res.rows.length} rows`);
    const wrong = expectNarrow(res.rows, 0);
    if (wrong) return bad(`cancel: ${wrong}`);
    if (res.rows.length >= 1000000) return bad('cancel: every row arrived anyway');
    const next = await within(10000, 'after cancel', exec(conn, 'SELECT COUNT(*) FROM all_types'));
    if (next.err || next.rows.length !== 1 || next.rows[0][0] !== 3)
      return bad(`cancel: the connection did not recover: ${next.err ? next.err.message : JSON.stringify(next.rows)}`);
    ok(`cancel: ATTENTION after ${res.rows.length} of 1000000 rows, ECANCEL, connection reused`);
  } finally { conn.close(); }
}

async function checkError() {
  const conn = await connect();
  try {
    await exec(conn, 'EXEC tdstestd_fault @error_after_rows = 5');
    const res = await within(10000, 'error', exec(conn, 'SELECT * FROM narrow'));
    if (!res.err || !/injected error after 5 rows/.test(res.err.message) || res.rows.length !== 5)
      return bad(`error_after_rows: ${res.err ? res.err.message : 'no error'}, ${res.rows.length} rows`);
    const wrong = expectNarrow(res.rows, 0);
    if (wrong) return bad(`error_after_rows: ${wrong}`);
    await exec(conn, 'EXEC tdstestd_fault @clear = 1');
    const next = await within(10000, 'after error', exec(conn, 'SELECT TOP 10 * FROM narrow'));
    if (next.err || next.rows.length !== 10) return bad(`error_after_rows: no recovery: ${next.err && next.err.message}`);
    ok('error_after_rows: 5 rows, error 50000, connection reused after clearing');
  } finally { conn.close(); }
}

async function checkClose() {
  const conn = await connect();
  try {
    await exec(conn, 'EXEC tdstestd_fault @close_after_bytes = 20000');
    const res = await within(15000, 'close', exec(conn, 'SELECT * FROM narrow'));
    if (!res.err) return bad(`close_after_bytes: no error, ${res.rows.length} rows`);
    const wrong = expectNarrow(res.rows, 0);
    if (wrong) return bad(`close_after_bytes: ${wrong}`);
    ok(`close_after_bytes: connection dropped after ${res.rows.length} rows (${res.err.code || res.err.message})`);
  } finally { conn.close(); }
}

async function checkDrip() {
  const conn = await connect();
  try {
    await exec(conn, 'EXEC tdstestd_fault @drip = 1, @drip_delay_ms = 1');
    const t0 = Date.now();
    const res = await within(30000, 'drip', exec(conn, 'SELECT TOP 4 * FROM narrow WHERE id >= 41'));
    if (res.err || res.rows.length !== 4) return bad(`drip: ${res.err ? res.err.message : res.rows.length + ' rows'}`);
    const wrong = expectNarrow(res.rows, 40);
    if (wrong) return bad(`drip: ${wrong}`);
    ok(`drip: 4 rows dripped byte by byte in ${Date.now() - t0} ms, values right`);
  } finally { conn.close(); }
}

async function checkStall() {
  const conn = await connect({ requestTimeout: 1500 });
  try {
    await exec(conn, 'EXEC tdstestd_fault @stall = 1');
    const t0 = Date.now();
    const res = await within(15000, 'stall', exec(conn, 'SELECT TOP 10 * FROM narrow'));
    const ms = Date.now() - t0;
    // After its request timeout tedious sends ATTENTION; a stalled server
    // never acknowledges it, so after cancelTimeout tedious drops the
    // connection (ECONNRESET) instead of reporting ETIMEOUT.
    if (!res.err || res.rows.length || ms < 1400 ||
        !['ETIMEOUT', 'ECONNRESET', 'ESOCKET'].includes(res.err.code))
      return bad(`stall: ${res.err ? res.err.code + ' ' + res.err.message : 'rows'} after ${ms} ms`);
    ok(`stall: no reply; tedious gave up after ${ms} ms (${res.err.code})`);
  } finally { conn.close(); }
}

async function checkMalformed() {
  const conn = await connect();
  try {
    await exec(conn, 'EXEC tdstestd_fault @malformed_after_rows = 3');
    const res = await within(15000, 'malformed', new Promise((resolve) => {
      // tedious may report a token parse error through the request or the
      // connection; either ends the check.
      // (tedious 19 emits its parser error on an internal stream with no
      // listener: it surfaces as an uncaught exception.)
      conn.removeAllListeners('error');
      conn.on('error', (e) => resolve({ err: e, rows: [] }));
      process.once('uncaughtException', (e) => resolve({ err: e, rows: [] }));
      exec(conn, 'SELECT * FROM narrow').then(resolve);
    }));
    if (!res.err) return bad(`malformed: no error, ${res.rows.length} rows`);
    ok(`malformed: tedious refused the invalid token (${res.err.message.split('\n')[0].slice(0, 80)})`);
  } finally { conn.close(); }
}

async function main() {
  for (const [name, f] of [['cancel', checkCancel], ['error', checkError], ['close', checkClose],
    ['drip', checkDrip], ['stall', checkStall], ['malformed', checkMalformed]]) {
    try { await f(); } catch (e) { bad(`${name}: ${e.message}`); }
  }
  console.log(`faults: ${6 - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
