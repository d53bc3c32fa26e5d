// Node.js `net` server speaking the same protocol (welcome + "ok ..." line
// echo), for docs/PERFORMANCE.md. Usage: node node_echo.js PORT_FILE
'use strict';
const net = require('net');
const fs = require('fs');

const server = net.createServer((sock) => {
  sock.setNoDelay(true);
  sock.write('welcome to server.\r\n');
  let pending = Buffer.alloc(0);
  sock.on('data', (chunk) => {
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const out = [];
    let start = 0;
    let nl;
    while ((nl = buf.indexOf(10, start)) !== -1) {
      out.push(Buffer.from('ok ...'), buf.subarray(start, nl + 1));
      start = nl + 1;
    }
    pending = Buffer.from(buf.subarray(start));
    if (out.length) sock.write(Buffer.concat(out));
  });
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', 511, () => {
  const file = process.argv[2];
  fs.writeFileSync(file + '.tmp', server.address().port + '\n');
  fs.renameSync(file + '.tmp', file);
});
