import type { Store } from '../store/store.js';

/** Who holds a named lease and until when (epoch ms). */
interface LeaseValue {
  holder: string;
  until: number;
}

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Extends the lease; false when it was lost (expired and taken by another holder). */
  renew(): Promise<boolean>;
  /** Gives the lease up at once, if still held. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** How long the lease holds without renewal. */
  ttlMs: number;
  now: () => Date;
}

const key = (name: string) => `lease:${name}`;

/**
 * Takes the named lease for `holder` when it is free or expired, in the store's internal state:
 * of several processes or servers on one store, one holds it at a time. A holder that crashes loses
 * it at expiry, and another may take it. Undefined when someone else holds it.
 */
export async function acquireLease(store: Store, name: string, holder: string, opts: LeaseOptions): Promise<Lease | undefined> {
  const current = await store.getState(key(name));
  const held = current?.value as LeaseValue | undefined;
  const now = opts.now().getTime();
  if (held && held.holder !== holder && held.until > now) return undefined;
  let rev = current?.rev ?? 0;
  if (!(await store.putState(key(name), { holder, until: now + opts.ttlMs } satisfies LeaseValue, rev))) return undefined;
  rev += 1;
  return {
    name,
    holder,
    async renew() {
      if (!(await store.putState(key(name), { holder, until: opts.now().getTime() + opts.ttlMs } satisfies LeaseValue, rev))) return false;
      rev += 1;
      return true;
    },
    async release() {
      if (await store.putState(key(name), undefined, rev)) rev = 0;
    },
  };
}
