// Uploads a file to a Molodets server with tus-js-client, the way a browser or app would, and
// prints one JSON line saying what happened. Driven by tests/uploads/test_tus_clients.py.
//
//   node upload.mjs ENDPOINT TOKEN FILE MODE [RESUME_ORIGIN]
//
// MODE  plain: one upload in several PATCHes.
//       abort: abort after the first chunk, then resume from the upload URL with a new Upload.
//       cut:   the first attempt goes through a proxy that cuts the connection mid-PATCH (no
//              retries), then a new Upload resumes from the URL at RESUME_ORIGIN.
import { readFileSync } from "node:fs";
import { Upload } from "tus-js-client";

const [endpoint, token, file, mode, resumeOrigin] = process.argv.slice(2);
const data = readFileSync(file);
const chunkSize = 64 * 1024;
let patches = 0;
let resumedFrom = null;

function options(extra) {
  return {
    chunkSize,
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: "clip.webm", filetype: "video/webm" },
    storeFingerprintForResuming: false,
    onAfterResponse(req, res) {
      if (req.getMethod() === "PATCH" && res.getStatus() === 204) patches += 1;
      if (req.getMethod() === "HEAD") resumedFrom = Number(res.getHeader("Upload-Offset"));
    },
    ...extra,
  };
}

// Resolves with {upload, outcome}: "success", "aborted" or the error message.
function attempt(extra, abortAfterChunks = 0) {
  return new Promise((resolve) => {
    let chunks = 0;
    const upload = new Upload(
      data,
      options({
        ...extra,
        onSuccess: () => resolve({ upload, outcome: "success" }),
        onError: (error) => resolve({ upload, outcome: `error: ${error.message.split("\n")[0]}` }),
        onChunkComplete: () => {
          chunks += 1;
          if (abortAfterChunks && chunks === abortAfterChunks) {
            upload.abort().then(() => resolve({ upload, outcome: "aborted" }));
          }
        },
      }),
    );
    upload.start();
  });
}

const first = await attempt(
  { endpoint, retryDelays: mode === "cut" ? null : [0, 200] },
  mode === "abort" ? 1 : 0,
);
let final = first;
if (first.outcome !== "success") {
  if (!first.upload.url) throw new Error(`no upload URL after the first attempt (${first.outcome})`);
  const url = new URL(first.upload.url);
  if (resumeOrigin) {
    const origin = new URL(resumeOrigin);
    url.host = origin.host;
  }
  // 409 (upload_locked, offset mismatch) is retried by tus-js-client after a fresh HEAD.
  final = await attempt({ uploadUrl: url.toString(), retryDelays: [0, 300, 1000, 2000] });
}
if (final.outcome !== "success") {
  console.error(JSON.stringify({ first: first.outcome, final: final.outcome }));
  process.exit(1);
}
console.log(JSON.stringify({ url: final.upload.url, first: first.outcome, resumedFrom, patches }));
