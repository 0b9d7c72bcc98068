// tedious_check.js — log in to tdstestd with tedious (from npm; run.sh
// installs it into a local node_modules and sets NODE_PATH) and dump what
// it reads as canonical JSON for check_values.py.
//
//   node tedious_check.js --port P --user U --password PW --database DB
//        --encrypt false|true|strict [--ca CA.pem] [--query SQL] [--out FILE]
//        [--token TOKEN]   (FEDAUTH security token instead of user/password)
//
// encrypt=false sends ENCRYPT_NOT_SUP (no TLS at all); true does the TDS 7.x
// TLS handshake inside PRELOGIN (TLS 1.2); strict connects to the TDS 8.0
// port with TLS first and ALPN tds/8.0. With --ca the certificate and the
// host name (127.0.0.1 as an IP SAN) are verified.
'use strict';

const fs = require('fs');
const { Connection, Request } = require('tedious');

function args() {
  const a = { host: '127.0.0.1', encrypt: 'false' };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  return a;
}

function pad(n, w) { return String(n).padStart(w, '0'); }

// tedious hands back JS values: Date (ms, plus nanosecondsDelta for
// time/datetime2/datetimeoffset), number for decimals (inexact), string for
// bigint and GUIDs, Buffer for binary. check_values.py knows these limits.
function canon(v, meta) {
  if (v === null || v === undefined) return null;
  const t = meta.type.name;
  if (Buffer.isBuffer(v)) return '0x' + v.toString('hex').toUpperCase();
  if (v instanceof Date) {
    const ns = v.nanosecondsDelta ? Math.round(v.nanosecondsDelta * 1e7) : 0;
    const frac = pad(v.getUTCMilliseconds() * 10000 + ns, 7);
    const d = `${pad(v.getUTCFullYear(), 4)}-${pad(v.getUTCMonth() + 1, 2)}-${pad(v.getUTCDate(), 2)}`;
    const tm = `${pad(v.getUTCHours(), 2)}:${pad(v.getUTCMinutes(), 2)}:${pad(v.getUTCSeconds(), 2)}.${frac}`;
    if (t === 'Date') return d;
    if (t === 'Time') return tm;
    if (t === 'DateTimeOffset') return `${d} ${tm} UTC`;
    return `${d} ${tm}`;
  }
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  return String(v);
}

function main() {
  const a = args();
  const encrypt = a.encrypt === 'strict' ? 'strict' : a.encrypt === 'true';
  const options = {
    port: Number(a.port),
    database: a.database,
    encrypt,
    trustServerCertificate: !a.ca,
    connectTimeout: 10000,
    requestTimeout: 30000,
    rowCollectionOnRequestCompletion: false,
  };
  if (a.ca) options.cryptoCredentialsDetails = { ca: fs.readFileSync(a.ca) };
  const conn = new Connection({
    server: a.host,
    // --token: FEDAUTH with a security token (LOGIN7 FeatureExt).
    authentication: a.token
      ? { type: 'azure-active-directory-access-token', options: { token: a.token } }
      : { type: 'default', options: { userName: a.user, password: a.password } },
    options,
  });
  const tag = `tedious[encrypt=${a.encrypt}]`;
  const result = { client: 'tedious', mode: String(a.encrypt) };
  const fail = (what, err) => {
    console.log(`${tag}: ${what}: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
    try { conn.close(); } catch (e) { /* already closed */ }
  };
  const run = (sql, onRow, done) => {
    const req = new Request(sql, (err) => (err ? fail(sql, err) : done()));
    req.on('columnMetadata', (cols) => { result.columns = cols.map((c) => c.colName); });
    req.on('row', (cols) => onRow(cols));
    conn.execSql(req);
  };
  conn.on('connect', (err) => {
    if (err) return fail('connect', err);
    run('SELECT @@VERSION', (cols) => { result.version = cols[0].value; }, () => {
      console.log(`${tag}: @@VERSION = ${String(result.version).split('\n')[0]}`);
      if (!a.query) return finish();
      result.columns = [];
      result.rows = [];
      run(a.query, (cols) => result.rows.push(cols.map((c) => canon(c.value, c.metadata))), () => {
        console.log(`${tag}: ${result.rows.length} rows, ${result.columns.length} columns`);
        finish();
      });
    });
  });
  function finish() {
    if (a.out) fs.writeFileSync(a.out, JSON.stringify(result, null, 1));
    conn.close();
  }
  conn.connect();
}

main();
