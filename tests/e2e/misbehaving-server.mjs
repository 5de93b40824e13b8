// A local HTTP server for the browser tests that answers however a test tells it to: files
// whose bytes, headers and HEAD answers change between requests, fallback HTML pages, bodies
// shorter than their Content-Length, endless bodies. Cross-origin requests are allowed (CORS),
// unless a file says otherwise. Every request is logged as "METHOD /path".

import http from "node:http";

/**
 * Starts the server on 127.0.0.1; resolves to {url, files, log, close()}. `files` maps a path
 * ("/m/config.json") to {body (Buffer|string), headers?, headStatus?, cors? (default true),
 * lie? (announce this many more bytes than sent, then drop the connection), endless? (stream
 * chunks until the client gives up)}; a path it does not hold answers 404.
 */
export function misbehavingServer() {
  const files = new Map();
  const log = [];
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    log.push(`${req.method} ${path}`);
    const file = files.get(path);
    const cors = file?.cors === false ? {} : {
      "access-control-allow-origin": "*",
      "access-control-expose-headers": "etag, last-modified, x-repo-commit, content-length",
    };
    if (!file) {
      res.writeHead(404, { ...cors, "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    if (req.method === "HEAD" && file.headStatus) {
      res.writeHead(file.headStatus, cors);
      res.end();
      return;
    }
    const body = Buffer.from(file.body ?? "");
    if (file.endless) {
      res.writeHead(200, { ...cors, "content-type": "application/octet-stream", ...file.headers });
      const chunk = Buffer.alloc(1 << 16, 7);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      res.on("close", () => res.destroy());
      pump();
      return;
    }
    const length = body.length + (file.lie ?? 0);
    res.writeHead(200, { ...cors, "content-type": "application/octet-stream", "content-length": String(length), ...file.headers });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    if (file.lie) {
      res.write(body);
      setTimeout(() => res.destroy(), 50); // fewer bytes than announced, then the connection drops
      return;
    }
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        files,
        log,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}
