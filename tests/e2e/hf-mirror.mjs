// A local stand-in for the Hugging Face Hub, for loading models from `…/resolve/main/` URLs
// without the internet. Two servers on two ports, so two origins other than the page's:
//
//   hub  http://127.0.0.1:A/{org}/{repo}/resolve/{revision}/{file}
//        text files: 200 with Content-Length and ETag;
//        LFS files (weights: what a Hub repository's default .gitattributes sends to LFS,
//        whatever their size): 302 to the CDN, as huggingface.co does (X-Linked-Size/-Etag);
//        unknown repository: 401 with X-Error-Code: RepoNotFound (what the Hub answers to an
//        anonymous request for a repository that does not exist or is private);
//        unknown file: 404 with X-Error-Code: EntryNotFound; other revision: 404 RevisionNotFound.
//   cdn  http://127.0.0.1:B/repos/{hash}/{sha}?response-content-disposition=…  the LFS bytes.
//
// Both answer with CORS headers the way the Hub does (the CDN gets Origin "null" after the
// cross-origin redirect and allows any origin). Every request is logged in `requests`, file
// transfers with `complete` (false when the client hung up before the last byte).

import http from "node:http";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import path from "node:path";

const EXPOSE = "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-Etag";
// The weight formats among the Hub's default .gitattributes LFS patterns.
const LFS_EXTENSIONS = [".safetensors", ".bin", ".onnx", ".pt", ".ckpt", ".msgpack", ".h5"];

function listen(handler) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const etagOf = (file, size) => `"${createHash("sha1").update(`${file}:${size}`).digest("hex")}"`;

/**
 * Serves `repos` ({"org/name": directory}) like the Hub. Resolves to {hubUrl, cdnUrl,
 * requests: [{server, method, url, status, complete?}], close()}.
 */
export async function serveHfMirror(repos) {
  const requests = [];
  const lfs = new Map(); // cdn path -> file on disk
  let cdnUrl;

  const cors = (req, res) => {
    const origin = req.headers.origin;
    res.setHeader("Access-Control-Allow-Origin", origin && origin !== "null" ? origin : "*");
    res.setHeader("Access-Control-Expose-Headers", EXPOSE);
    res.setHeader("Vary", "Origin");
  };
  const finish = (server, req, res, status, headers = {}, body = "") => {
    requests.push({ server, method: req.method, url: req.url, status });
    res.writeHead(status, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const sendFile = (server, req, res, file, extra = {}) => {
    const size = statSync(file).size;
    const entry = { server, method: req.method, url: req.url, status: 200, complete: null };
    requests.push(entry);
    // Whether all bytes went out before the connection closed (false: the client aborted).
    res.on("close", () => (entry.complete = res.writableFinished));
    res.writeHead(200, {
      "Content-Type": file.endsWith(".json") ? "application/json" : "application/octet-stream",
      "Content-Length": size,
      ETag: etagOf(file, size),
      "Accept-Ranges": "bytes",
      ...extra,
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  };
  const error = (server, req, res, status, code, message) =>
    finish(server, req, res, status, { "Content-Type": "text/plain; charset=utf-8", "X-Error-Code": code, "X-Error-Message": message }, message);

  const hub = await listen((req, res) => {
    cors(req, res);
    if (req.method === "OPTIONS") return finish("hub", req, res, 204, { "Access-Control-Allow-Methods": "GET, HEAD", "Access-Control-Allow-Headers": "*" });
    const m = new URL(req.url, "http://hub").pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (!m) return error("hub", req, res, 404, "NotFound", "Not Found");
    const [, repo, revision, name] = m.map(decodeURIComponent);
    const dir = repos[repo];
    if (!dir) return error("hub", req, res, 401, "RepoNotFound", "Repository not found");
    if (revision !== "main") return error("hub", req, res, 404, "RevisionNotFound", "Invalid rev id: " + revision);
    const file = path.join(dir, name);
    if (!existsSync(file) || path.relative(dir, file).startsWith("..")) {
      return error("hub", req, res, 404, "EntryNotFound", `Entry not found`);
    }
    const size = statSync(file).size;
    const headers = { "X-Repo-Commit": "0123456789abcdef0123456789abcdef01234567" };
    if (!LFS_EXTENSIONS.includes(path.extname(name))) return sendFile("hub", req, res, file, headers);
    // LFS files live on the CDN: a redirect to another origin and path, as the Hub does.
    const sha = createHash("sha256").update(`${repo}/${name}:${size}`).digest("hex");
    const cdnPath = `/repos/${createHash("sha1").update(repo).digest("hex").slice(0, 8)}/${sha}`;
    lfs.set(cdnPath, file);
    const location = `${cdnUrl}${cdnPath}?response-content-disposition=${encodeURIComponent(`inline; filename="${name}"`)}&Expires=9999999999`;
    finish("hub", req, res, 302, { ...headers, Location: location, "X-Linked-Size": size, "X-Linked-Etag": `"${sha}"`, "Content-Length": 0 });
  });
  const cdn = await listen((req, res) => {
    res.setHeader("Access-Control-Allow-Origin", "*");
    res.setHeader("Access-Control-Expose-Headers", "ETag,Content-Length");
    const file = lfs.get(new URL(req.url, "http://cdn").pathname);
    if (!file) return finish("cdn", req, res, 403, { "Content-Type": "application/xml" }, "<Error><Code>AccessDenied</Code></Error>");
    sendFile("cdn", req, res, file);
  });
  const hubUrl = `http://127.0.0.1:${hub.address().port}`;
  cdnUrl = `http://127.0.0.1:${cdn.address().port}`;
  return {
    hubUrl,
    cdnUrl,
    requests,
    close: () => {
      hub.closeAllConnections?.();
      cdn.closeAllConnections?.();
      hub.close();
      cdn.close();
    },
  };
}
