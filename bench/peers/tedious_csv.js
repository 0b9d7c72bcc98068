// tedious_csv.js — bench/run's tedious client: runs one query, reads every
// row ('row' events, nothing collected) and writes it as CSV (RFC 4180
// quoting; dates ISO 8601, binary as hex, NULL empty), buffered and
// written synchronously in 1 MB pieces so memory stays flat.
//
//   NODE_PATH=.../node_modules node tedious_csv.js PORT USER PASSWORD DATABASE QUERY OUT.csv
//
// Prints the row count. Exit 0 on success.
'use strict';

const fs = require('fs');
const { Connection, Request } = require('tedious');

const [port, user, password, database, query, out] = process.argv.slice(2);
const fd = fs.openSync(out, 'w');
let buf = '';
let rows = 0;

function field(v) {
  if (v === null || v === undefined) return '';
  let s;
  if (Buffer.isBuffer(v)) s = '0x' + v.toString('hex').toUpperCase();
  else if (v instanceof Date) s = v.toISOString();
  else s = String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function flush(force) {
  if (buf.length >= (1 << 20) || (force && buf.length)) {
    fs.writeSync(fd, buf);
    buf = '';
  }
}

const conn = new Connection({
  server: '127.0.0.1',
  authentication: { type: 'default', options: { userName: user, password } },
  options: { port: Number(port), database, encrypt: false, requestTimeout: 0, connectTimeout: 10000,
             rowCollectionOnRequestCompletion: false },
});
conn.on('connect', (err) => {
  if (err) {
    console.error(`tedious: connect: ${err.message}`);
    process.exit(1);
  }
  const req = new Request(query, (e) => {
    if (e) {
      console.error(`tedious: ${e.message}`);
      process.exit(1);
    }
    flush(true);
    fs.closeSync(fd);
    console.log(`tedious: ${rows} rows`);
    conn.close();
  });
  req.on('columnMetadata', (cols) => { buf += cols.map((c) => field(c.colName)).join(',') + '\r\n'; });
  req.on('row', (cols) => {
    let line = '';
    for (let i = 0; i < cols.length; i++) line += (i ? ',' : '') + field(cols[i].value);
    buf += line + '\r\n';
    rows++;
    flush(false);
  });
  conn.execSql(req);
});
conn.connect();
