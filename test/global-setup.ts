/**
 * Vitest's summary counts skipped tests without their reasons: say once, beside it, why the MongoDB
 * engine's tests did not run.
 */
export default function setup(): () => void {
  return () => {
    if (!process.env.MONGODB_URI) {
      process.stdout.write('\nMongoDB engine tests skipped: MONGODB_URI is not set (CI sets it to a FerretDB server; see .ci/run).\n');
    }
  };
}
