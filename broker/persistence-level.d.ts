// aedes-persistence-level ships no types. Its async class is what aedes 1.x calls directly; the package's
// main export only wraps it in a callback layer that aedes 1.x no longer needs.
declare module 'aedes-persistence-level/asyncPersistence.js' {
  import type { Level } from 'level';
  export default class AsyncLevelPersistence {
    constructor(db: Level<string, Buffer>);
    setup(broker: unknown): Promise<void>;
    destroy(): Promise<void>;
  }
}
