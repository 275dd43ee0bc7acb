// The fault proxy thread's entry: a worker thread does not inherit the
// harness's tsx loader, so it registers its own before loading the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./fault-proxy-thread.js');
