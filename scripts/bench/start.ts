/**
 * Start-to-first-answer of `npm start`: spawns it on a fresh data directory and a free port, then
 * times (from the spawn) the first answer to GET /fhir/metadata and the first write (POST Patient),
 * which is where a validator compiled on first use shows. Prints the figures with the machine.
 *   npm run bench:start            (BENCH_RUNS, default 3; BENCH_ROOT: another checkout to start)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalIssuer } from '../../src/auth/local-issuer.js';
import { freePort, machine, ROOT } from './lib.js';

async function once(): Promise<{ metadata: number; wait: number; write: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'carnet-bench-start-'));
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn('npm', ['start'], { cwd: process.env.BENCH_ROOT ?? ROOT, env: { ...process.env, PORT: String(port), CARNET_DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, stdio: 'ignore', detached: true });
  try {
    let metadata = 0;
    let wait = 0;
    while (!metadata) {
      const sent = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/fhir/metadata`).catch(() => undefined);
      if (res?.ok) {
        metadata = performance.now() - t0;
        wait = performance.now() - sent;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const res = await fetch(`http://127.0.0.1:${port}/fhir/Patient`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Martin' }] }),
    });
    if (res.status !== 201) throw new Error(`POST Patient answered ${res.status}`);
    return { metadata, wait, write: performance.now() - t0 };
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const runs = Number(process.env.BENCH_RUNS ?? 3);
console.log(`npm start in ${process.env.BENCH_ROOT ?? ROOT}, fresh data directory, ${machine()}`);
for (let i = 1; i <= runs; i++) {
  const { metadata, wait, write } = await once();
  console.log(`run ${i}: first metadata answer ${(metadata / 1000).toFixed(2)} s after the spawn (that request took ${Math.round(wait)} ms), first POST Patient answered at ${(write / 1000).toFixed(2)} s`);
}
