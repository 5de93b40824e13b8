// Reads a response body into one Uint8Array with progress and a size cap, and errors that name
// the file: an endless or oversized body stops at the cap instead of filling memory, and a body
// cut short (a server whose Content-Length lies, a dropped connection) says which file it was.

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function tooLarge(what, url, size, maxBytes) {
  return new Error(
    `${what} from ${url} is larger than its limit of ${maxBytes} bytes (${mib(maxBytes)}; ${size}); ` +
      "not the right file? (the weights' limit is the maxModelBytes option of Whisper.load, a pack's the maxBytes option of loadExpert)",
  );
}

/**
 * The body of `response`, at most `maxBytes` long. onBytes(loaded, total) reports progress
 * (total: the Content-Length, or null when the server gives none).
 */
export async function readBody(response, { what, url, maxBytes = Infinity, onBytes = () => {} }) {
  const declared = response.headers.get("content-length");
  const total = declared != null && declared !== "" ? Number(declared) : null;
  if (total != null && total > maxBytes) throw tooLarge(what, url, `${total} bytes announced`, maxBytes);
  if (!response.body) {
    const buf = new Uint8Array(await response.arrayBuffer());
    if (buf.byteLength > maxBytes) throw tooLarge(what, url, `${buf.byteLength} bytes`, maxBytes);
    onBytes(buf.byteLength, buf.byteLength);
    return buf;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  onBytes(0, total);
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      const short = total != null ? ` after ${loaded} of ${total} bytes` : ` after ${loaded} bytes`;
      throw new Error(
        `could not download ${what} from ${url}: the transfer broke off${short} (${e.message}); ` +
          "the connection dropped, or the server sent fewer bytes than its Content-Length — try again",
      );
    }
    if (chunk.done) break;
    loaded += chunk.value.byteLength;
    if (loaded > maxBytes) {
      reader.cancel().catch(() => {});
      throw tooLarge(what, url, `over ${loaded} bytes so far`, maxBytes);
    }
    chunks.push(chunk.value);
    onBytes(loaded, total);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
