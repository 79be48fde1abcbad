import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ensureLocalIssuer } from '../src/auth/local-issuer.js';
import { describeEngines } from './harness.js';
import { PROCESS_TIMEOUT, startProcess } from './processes.js';

const ROOT = new URL('..', import.meta.url).pathname;

describeEngines('the server process', (engine) => {
  const dirs: string[] = [];
  const envFor = (dataDir: string) => ({
    CARNET_DATA_DIR: dataDir,
    ...(engine === 'mongodb' ? { MONGODB_URI: process.env.MONGODB_URI!, MONGODB_DB: `carnet_proc_${process.pid}_${Date.now()}` } : {}),
  });
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('keeps every acknowledged write through kill -9', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carnet-kill-'));
    dirs.push(dataDir);
    const env = envFor(dataDir);
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };
    const first = await startProcess(env);
    const acknowledged: Array<{ id: string; family: string }> = [];
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const family = `Kill${i}`;
        const res = await fetch(`http://127.0.0.1:${first.port}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ family }] }) });
        if (res.status === 201) acknowledged.push({ id: ((await res.json()) as { id: string }).id, family });
      }),
    );
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(acknowledged).toHaveLength(200);

    const second = await startProcess(env);
    try {
      for (const { id, family } of acknowledged) {
        const res = await fetch(`http://127.0.0.1:${second.port}/fhir/Patient/${id}`, { headers });
        expect(res.status).toBe(200);
        expect(((await res.json()) as any).name[0].family).toBe(family);
      }
    } finally {
      second.child.kill('SIGKILL');
      await second.exited;
    }
  }, PROCESS_TIMEOUT);

  it('on SIGTERM finishes a request in flight, then exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'carnet-term-'));
    dirs.push(dataDir);
    const token = await (await ensureLocalIssuer(dataDir)).sign({ scope: 'system/*.cruds' });
    const env = envFor(dataDir);
    const run = await startProcess(env);
    const body = Buffer.from(JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Term' }] }));
    // A request whose body is still arriving when the signal comes: it is in flight, not yet handled.
    // `Expect: 100-continue` says when the server has read its headers (a fixed wait was too short
    // for a loaded machine: the connection was still idle, and closed, when the signal came).
    const req = request({
      host: '127.0.0.1', port: run.port, method: 'POST', path: '/fhir/Patient',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', 'content-length': body.length, expect: '100-continue' },
    });
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    const headersRead = new Promise((resolve) => req.once('continue', resolve));
    req.flushHeaders();
    await headersRead;
    req.write(body.subarray(0, 10));
    run.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    req.end(body.subarray(10));
    const { status, text } = await response;
    expect(status, text).toBe(201);
    expect((await run.exited).code).toBe(0);
    // What was acknowledged is there after a restart.
    const again = await startProcess(env);
    try {
      const id = JSON.parse(text).id;
      const res = await fetch(`http://127.0.0.1:${again.port}/fhir/Patient/${id}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    } finally {
      again.child.kill('SIGKILL');
      await again.exited;
    }
  }, PROCESS_TIMEOUT);
});

it('stops at start-up with one line naming an invalid variable', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).not.toBe(0);
  expect(err.trim().split('\n')).toHaveLength(1);
  expect(err).toContain('PORT');
}, PROCESS_TIMEOUT);
