import type { FastifyInstance } from 'fastify';

/** Every (method, path) under `prefix` in Fastify's route table, with parameters filled in with `fill`. */
export async function routesUnder(server: FastifyInstance, prefix: string, fill = '1'): Promise<Array<{ method: string; url: string }>> {
  await server.ready();
  // commonPrefix: false prints a tree whose segments concatenate into full paths.
  const table = server.printRoutes({ commonPrefix: false });
  const routes: Array<{ method: string; url: string }> = [];
  const stack: string[] = [];
  for (const line of table.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match?.[2]) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2]);
    const path = stack.join('');
    if (!match[3] || (path !== prefix && !path.startsWith(`${prefix}/`))) continue;
    const url = path.replace(/:[A-Za-z_]+/g, fill).replace(/\*/g, 'anything');
    for (const method of match[3].split(',').map((m) => m.trim())) routes.push({ method, url });
  }
  return routes;
}
