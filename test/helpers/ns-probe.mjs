// Run inside the network namespace of an isolated `reverify dev` (through
// nsenter) to look at it from where its ports are reachable. Prints one JSON
// value on stdout.
//   node ns-probe.mjs sql DATABASE_URL QUERY
//   node ns-probe.mjs http URL [AUTHORIZATION]
//   node ns-probe.mjs port HOST PORT
import { createConnection } from 'node:net';
import pg from 'pg';

const [mode, ...args] = process.argv.slice(2);

async function main() {
  if (mode === 'sql') {
    const client = new pg.Client({ connectionString: args[0] });
    await client.connect();
    try {
      return (await client.query(args[1])).rows;
    } finally {
      await client.end();
    }
  }
  if (mode === 'http') {
    const response = await fetch(args[0], { headers: args[1] ? { authorization: args[1] } : {} });
    return { status: response.status, body: (await response.text()).slice(0, 200_000) };
  }
  if (mode === 'port') {
    return new Promise((resolve) => {
      const socket = createConnection({ host: args[0], port: Number(args[1]) });
      socket.once('connect', () => (socket.destroy(), resolve({ open: true })));
      socket.once('error', (error) => resolve({ open: false, code: error.code }));
    });
  }
  throw new Error(`unknown probe ${mode}`);
}

main().then(
  (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
