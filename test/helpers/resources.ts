/**
 * Tracks what a test file opens (databases, Redis connections, workers, child
 * processes), so the leak check can fail a file that leaves one open.
 */
interface Tracked {
  name: string;
  isOpen(): boolean;
}

const tracked: Tracked[] = [];

/** Registers a resource; `isOpen` is asked at the end of the file. */
export function track(name: string, isOpen: () => boolean): void {
  tracked.push({ name, isOpen });
}

/** Names of the tracked resources still open. */
export function openResources(): string[] {
  return tracked.filter((resource) => resource.isOpen()).map((resource) => resource.name);
}
