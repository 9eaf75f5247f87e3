import t from 'tap';
import { boundHeapGrowth } from './heap.ts';

t.test(
  "V8's heap growth is set for the long-running parts, unless the node command line sets it",
  async (t) => {
    t.equal(boundHeapGrowth(['--heap-growing-percent=20']), false, "the operator's own factor stays");
    t.equal(boundHeapGrowth(['--heap_growing_percent', '20']), false);
    t.equal(boundHeapGrowth(['--max-old-space-size=512']), true, 'set beside other flags');
  },
);
