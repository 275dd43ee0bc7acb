import { afterAll } from 'vitest';
import { openResources } from './resources.js';

// Registered before any test file's own hooks, so it runs after them: by then
// every worker, connection and child process a file opened must be closed.
afterAll(() => {
  const open = openResources();
  if (open.length > 0) {
    throw new Error(`this test file left open: ${open.join(', ')}. Close them in afterAll/afterEach.`);
  }
});
