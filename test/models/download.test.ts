/**
 * Downloads against a local HTTP server on 127.0.0.1 (never the network): success, wrong checksum,
 * dropped connections (restarted cleanly), unreachable server, and the model cache on top of it.
 * Whatever happens, the cache never holds a half file.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, truncateSync } from 'node:fs';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { InputError } from '../../src/core/errors.js';
import { DroppedConnectionError, downloadFile, UnreachableError } from '../../src/models/download.js';
import { pullCheckpoint, pullModel } from '../../src/models/cache.js';
import { resolveModel } from '../../src/models/index.js';
import { initBackend } from '../../src/core/backend.js';
import { listFiles, requireOracle, runCli, tempDir } from '../helpers.js';
import { torchFixture } from './torch_fixtures.js';

interface Server { url: string; hits: number; close(): Promise<void> }

/** A server on 127.0.0.1 whose handler gets the request number (0-based). */
async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void): Promise<Server> {
  const state = { hits: 0 };
  const server = http.createServer((req, res) => handler(req, res, state.hits++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get hits() { return state.hits; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Sends the headers (full Content-Length) and half the body, then kills the connection. */
function dropHalfway(res: http.ServerResponse, body: Buffer, withLength = true): void {
  if (withLength) res.setHeader('content-length', body.length);
  res.writeHead(200);
  res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
}

const body = randomBytes(300_000);
const sha = createHash('sha256').update(body).digest('hex');

test('download: verified file lands atomically; wrong checksum and dropped connections leave nothing', async (t) => {
  const dir = tempDir(t);
  const dest = path.join(dir, `file-${sha.slice(0, 8)}.pth`);

  const ok = await serve((_req, res) => { res.setHeader('content-length', body.length); res.end(body); });
  t.after(() => ok.close());
  const got = await downloadFile(`${ok.url}/f`, dest, { sha256Prefix: sha.slice(0, 8), quiet: true });
  assert.equal(got.sha256, sha);
  assert.ok(readFileSync(dest).equals(body));
  assert.deepEqual(listFiles(dir), [path.basename(dest)]);

  const dest2 = path.join(dir, 'wrong', 'file-deadbeef.pth');
  await assert.rejects(downloadFile(`${ok.url}/f`, dest2, { sha256Prefix: 'deadbeef', quiet: true }),
    (e: Error) => e instanceof InputError && /SHA-256/.test(e.message) && /nothing was cached/.test(e.message));
  assert.deepEqual(listFiles(path.dirname(dest2)), []);

  for (const withLength of [true, false]) {
    const dropping = await serve((_req, res) => dropHalfway(res, body, withLength));
    t.after(() => dropping.close());
    const dest3 = path.join(dir, `drop-${withLength}`, 'file.pth');
    await assert.rejects(downloadFile(`${dropping.url}/f`, dest3, { retries: 1, quiet: true }), DroppedConnectionError);
    assert.equal(dropping.hits, 2, 'one restart after the first drop');
    assert.deepEqual(listFiles(path.dirname(dest3)), [], `content-length ${withLength}: no half file`);
  }

  // Dropped once, then served: the restart succeeds.
  const flaky = await serve((_req, res, hit) => (hit === 0 ? dropHalfway(res, body) : res.end(body)));
  t.after(() => flaky.close());
  const dest4 = path.join(dir, 'flaky', 'file.pth');
  await downloadFile(`${flaky.url}/f`, dest4, { sha256Prefix: sha.slice(0, 10), quiet: true });
  assert.ok(readFileSync(dest4).equals(body));
  assert.deepEqual(listFiles(path.dirname(dest4)), ['file.pth']);

  // Redirects are followed; HTTP errors are reported.
  const redirect = await serve((req, res) => {
    if (req.url === '/old') { res.writeHead(302, { location: '/new' }); res.end(); } else if (req.url === '/new') res.end(body); else { res.writeHead(404); res.end(); }
  });
  t.after(() => redirect.close());
  await downloadFile(`${redirect.url}/old`, path.join(dir, 'redir', 'f'), { sha256Prefix: sha.slice(0, 8), quiet: true });
  await assert.rejects(downloadFile(`${redirect.url}/nope`, path.join(dir, 'redir404', 'f'), { quiet: true }), /HTTP 404/);
  assert.deepEqual(listFiles(path.join(dir, 'redir404')), []);
});

test('download: an unreachable server is reported as such', async (t) => {
  const s = await serve((_q, r) => r.end());
  const url = s.url;
  await s.close(); // the port is now closed: connection refused
  const dir = tempDir(t);
  await assert.rejects(downloadFile(`${url}/x.pth`, path.join(dir, 'x.pth'), { quiet: true }), (e: Error) => e instanceof UnreachableError && /ECONNREFUSED/.test(e.message));
  assert.deepEqual(listFiles(dir), []);
});

test('pull: wrong checksum of a registry model caches nothing; without network the error says how to convert locally', async (t) => {
  const home = tempDir(t);
  const wrong = await serve((_req, res) => res.end(body)); // serves bytes that are not resnet18-f37072fd.pth
  t.after(() => wrong.close());
  const saved = process.env.DNNKIT_MODEL_URL_BASE;
  t.after(() => { if (saved === undefined) delete process.env.DNNKIT_MODEL_URL_BASE; else process.env.DNNKIT_MODEL_URL_BASE = saved; });
  process.env.DNNKIT_MODEL_URL_BASE = wrong.url;
  await assert.rejects(pullModel('resnet18', { home, quiet: true }), /expected it to start with f37072fd/);
  assert.equal(wrong.hits, 1);
  assert.deepEqual(listFiles(home), []);

  // No network: `--model resnet18` on an empty cache tries to pull and says exactly what to run.
  const closed = await serve((_q, r) => r.end());
  const closedUrl = closed.url;
  await closed.close();
  const img = new URL('../../../data/images/chelsea.png', import.meta.url).pathname;
  const out = path.join(tempDir(t), 'out');
  const res = await runCli(['classify', '--model', 'resnet18', img, '--out', out], { env: { DNNKIT_HOME: home, DNNKIT_MODEL_URL_BASE: closedUrl } });
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /unreachable/);
  assert.match(res.stderr, /dnnkit models convert resnet18-f37072fd\.pth --arch resnet18/);
  assert.deepEqual(listFiles(home), []);
  assert.deepEqual(listFiles(out), []);
});

/**
 * A PyTorch-written ResNet-18 checkpoint and the torchvision-style file name that carries its
 * SHA-256 prefix (what a server would publish); null when the torch oracle is missing.
 */
async function servableCheckpoint(t: TestContext): Promise<{ pth: Buffer; file: string } | null> {
  const py = requireOracle(t, ['torch', 'torchvision']);
  if (!py) return null;
  const fx = await torchFixture(py, 'resnet18', { noise: 1, legacy: true });
  const pth = readFileSync(fx.checkpoint);
  return { pth, file: `resnet18-${createHash('sha256').update(pth).digest('hex').slice(0, 8)}.pth` };
}

test('pull from a local server: download, verify, convert, cache; then --model loads from the cache offline', async (t) => {
  const fx = await servableCheckpoint(t);
  if (!fx) return;
  const { pth, file } = fx;
  const s = await serve((req, res, hit) => {
    if (req.url !== `/${file}`) { res.writeHead(404); res.end(); return; }
    if (hit === 0) return dropHalfway(res, pth); // first attempt breaks off
    res.setHeader('content-length', pth.length);
    res.end(pth);
  });
  t.after(() => s.close());
  const home = tempDir(t);
  await initBackend();
  const r = await pullCheckpoint('resnet18', { file, url: `${s.url}/${file}` }, { home, quiet: true });
  assert.equal(r.downloaded, true);
  assert.equal(s.hits, 2);
  assert.deepEqual(listFiles(home), [`checkpoints/${file}`, 'models/resnet18/model.json', 'models/resnet18/weights.bin']);
  await s.close();
  // Cached: no download (the server is gone) and resolveModel loads it.
  const again = await pullCheckpoint('resnet18', { file, url: `${s.url}/${file}` }, { home, quiet: true });
  assert.equal(again.converted, false);
  // A damaged cached model is reported with the fix; --force re-converts from the kept checkpoint, offline.
  truncateSync(path.join(home, 'models', 'resnet18', 'weights.bin'), 1000);
  await assert.rejects(resolveModel('resnet18', { home, quiet: true }), /damaged .*dnnkit models pull resnet18 --force/);
  const forced = await pullCheckpoint('resnet18', { file, url: `${s.url}/${file}` }, { home, quiet: true, force: true });
  assert.deepEqual([forced.downloaded, forced.converted], [false, true]);
  const m = await resolveModel('resnet18', { home, quiet: true });
  assert.equal(m.name, 'resnet18');
  assert.deepEqual(m.inputShape, [224, 224, 3]);
  assert.equal(m.outputsLogits, true);
  assert.equal(m.classNames?.length, 1000);
  m.model.dispose();
});

test('two processes pulling the same model at once: one downloads and converts, the other waits and finds it cached', async (t) => {
  const fx = await servableCheckpoint(t);
  if (!fx) return;
  const { pth, file } = fx;
  // A slow server (the body after 1.5 s), so that the second process starts while the first pulls.
  const s = await serve((_req, res) => {
    setTimeout(() => { res.setHeader('content-length', pth.length); res.end(pth); }, 1500);
  });
  t.after(() => s.close());
  const home = tempDir(t);
  const cacheJs = new URL('../../src/models/cache.js', import.meta.url).href;
  const backendJs = new URL('../../src/core/backend.js', import.meta.url).href;
  const script = `const { initBackend } = await import(${JSON.stringify(backendJs)}); await initBackend();
    const { pullCheckpoint } = await import(${JSON.stringify(cacheJs)});
    const r = await pullCheckpoint('resnet18', { file: ${JSON.stringify(file)}, url: ${JSON.stringify(`${s.url}/${file}`)} }, { home: ${JSON.stringify(home)} });
    console.log(JSON.stringify(r));`;
  const child = (delayMs: number) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    setTimeout(() => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }, (err, stdout, stderr) => {
        resolve({ code: err ? (err as NodeJS.ErrnoException & { code?: number }).code as unknown as number ?? 1 : 0, stdout, stderr });
      });
    }, delayMs);
  });
  const [a, b] = await Promise.all([child(0), child(700)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ra = JSON.parse(a.stdout.trim().split('\n').pop()!);
  const rb = JSON.parse(b.stdout.trim().split('\n').pop()!);
  assert.equal(s.hits, 1, 'the checkpoint is downloaded once');
  assert.deepEqual([ra.downloaded, ra.converted], [true, true]);
  assert.deepEqual([rb.downloaded, rb.converted], [false, false]);
  assert.match(b.stderr, /another dnnkit \(pid \d+\) is pulling resnet18; waiting for it/);
  assert.deepEqual(listFiles(home), [`checkpoints/${file}`, 'models/resnet18/model.json', 'models/resnet18/weights.bin']);
  await initBackend();
  const m = await resolveModel('resnet18', { home, quiet: true });
  m.model.dispose();
});
