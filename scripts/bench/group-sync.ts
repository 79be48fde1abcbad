// Group commit on one file, as carnet's journal groups its events: one write and `fdatasync` at a
// time, the records that arrive meanwhile going together in the next. What a durable trace costs
// at the least (bench:journal's bare log, and bare Fastify's answers after a sync in `npm run bench`).
import { fdatasync, writev } from 'node:fs';

export interface GroupSync {
  /** Resolves once `record` is written and synced, with the others waiting at the time. */
  append(record: Buffer): Promise<void>;
  /** Syncs made so far. */
  readonly syncs: number;
}

export function groupSync(fd: number): GroupSync {
  let records: Buffer[] = [];
  let waiting: Array<() => void> = [];
  let inFlight = false;
  let syncs = 0;
  const flush = () => {
    if (inFlight || records.length === 0) return;
    inFlight = true;
    const batch = records;
    const done = waiting;
    records = [];
    waiting = [];
    writev(fd, batch, (err) => {
      if (err) throw err;
      fdatasync(fd, (err2) => {
        if (err2) throw err2;
        syncs++;
        inFlight = false;
        for (const d of done) d();
        flush();
      });
    });
  };
  return {
    append: (record) =>
      new Promise<void>((done) => {
        records.push(record);
        waiting.push(done);
        if (records.length === 1) setImmediate(flush);
      }),
    get syncs() {
      return syncs;
    },
  };
}
