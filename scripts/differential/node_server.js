// Reference server for scripts/differential: Node.js's own `http` server
// (llhttp, strict by default). It answers every request it parsed with
// 200 and a JSON report of what it parsed, so a second request hidden in
// the bytes shows up as a second response. A parse error is answered 400
// with llhttp's error code, then the connection closes.
//
// Prints {"port": N} on stdout once listening on 127.0.0.1 (port 0).
'use strict';
const http = require('http');
const crypto = require('crypto');

const server = http.createServer((req, res) => {
  const socket = req.socket;
  socket.requests = socket.requests || new Set();
  socket.requests.add(req);
  res.on('finish', () => {
    socket.requests.delete(req);
    if (socket.deferredError && !waitingForAnswers(socket)) socket.deferredError();
  });
  const hash = crypto.createHash('sha256');
  let length = 0;
  req.on('data', (chunk) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on('end', () => {
    const report = JSON.stringify({
      method: req.method,
      target: req.url,
      headers: req.rawHeaders.length / 2,
      body_len: length,
      sha256: hash.digest('hex'),
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(report) });
    res.end(report);
  });
});

// Our own answer instead of Node's default, so the report names the error.
// llhttp reports an error in a pipelined request before the requests in
// front of it have been answered (their 'end' comes a tick later): the
// error answer waits for them, so the answers stay in order.
server.on('clientError', (err, socket) => {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const why = String(err.code || 'error');
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const answer = () => {
    socket.deferredError = null;
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: ${why.length}\r\nConnection: close\r\n\r\n${why}`);
  };
  if (waitingForAnswers(socket)) socket.deferredError = answer;
  else answer();
});

// Requests parsed whole whose answers are not yet out (a request whose
// body broke off never completes, so it is not waited for).
function waitingForAnswers(socket) {
  return [...(socket.requests || [])].some((req) => req.complete);
}

// Bounded lifetimes: a stuck client cannot hold the reference forever.
server.headersTimeout = 5000;
server.requestTimeout = 10000;
server.keepAliveTimeout = 5000;

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});

// The runner closes our stdin when it is done: exit then, whatever it did.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
