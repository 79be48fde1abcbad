import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort } from '../scripts/bench/lib.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** Spawned servers start in a few seconds, but the suite may share two cores with other test files. */
export const PROCESS_TIMEOUT = 180_000;

export interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
  stdout: () => string;
}

/**
 * The environment of a spawned server: this one's, less the MongoDB settings, which a test passes
 * itself when it means the MongoDB engine (CI sets MONGODB_URI for the whole suite).
 */
export function serverEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { MONGODB_URI: _uri, MONGODB_DB: _db, ...inherited } = process.env;
  return { ...inherited, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env };
}

/** Starts `src/main.ts` as its own process on a free port and waits until it answers /ready. */
export async function startProcess(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: serverEnv({ PORT: String(port), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      if (res.ok) return { child, port, exited, stderr: () => err, stdout: () => out };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start: ${err}`);
}

/**
 * The pids of a server's workers: its living children running carnet, read from /proc. (tsx may
 * also run an esbuild service as a child of the same process, on a cold transform cache.)
 */
export function workersOf(pid: number): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('main.');
    } catch {
      return false;
    }
  });
}

/** The pids of a process's living children, read from /proc. */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so fields are read after its closing parenthesis.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') found.push(Number(name));
    } catch {
      // the process ended while the list was read
    }
  }
  return found;
}
