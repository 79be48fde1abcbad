import type { Db } from 'mongodb';

export interface ServerTraits {
  /** Multi-document transactions are available (replica set or sharded cluster). */
  transactions: boolean;
  /**
   * The server cannot be trusted with search filters, which the engine then evaluates itself.
   * FerretDB v1 rejects $elemMatch with several field conditions ("unknown operator") and silently
   * matches nothing with one (FerretDB issues 2964 and 2262), and search is $elemMatch over `idx`.
   */
  filterInProcess: boolean;
  /** One sentence for the CapabilityStatement and the start-up log. */
  atomicity: string;
}

const WITH_TRANSACTIONS =
  'Every commit runs in one MongoDB transaction with majority, journaled write concern: all its writes are applied or none.';

const WITHOUT_TRANSACTIONS =
  'This server has no multi-document transactions: each version enters history before it becomes current, ' +
  'and one that a crash leaves in between becomes current when its resource is next read or written, a minute or more ' +
  'later (searches see the previous version until then); a multi-resource commit is applied in order and undone by ' +
  'compensation if one of its writes fails, but a crash or a lost connection during it can leave it partly applied.';

export async function describeServer(db: Db): Promise<ServerTraits> {
  const admin = db.admin();
  const [hello, build] = await Promise.all([admin.command({ hello: 1 }), admin.command({ buildInfo: 1 })]);
  // FerretDB v1 answers hello with a setName when started with --repl-set-name, yet has no transactions.
  const ferret = typeof build.ferretdbVersion === 'string';
  const transactions = !ferret && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid');
  return { transactions, filterInProcess: ferret, atomicity: transactions ? WITH_TRANSACTIONS : WITHOUT_TRANSACTIONS };
}
