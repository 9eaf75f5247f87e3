import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { boundHeapGrowth, YOUNG_GENERATION_FLAG } from './heap.ts';

t.test(
  "V8's heap growth is set for the long-running parts, unless the node command line sets it",
  async (t) => {
    t.equal(boundHeapGrowth(['--heap-growing-percent=20']), false, "the operator's own factor stays");
    t.equal(boundHeapGrowth(['--heap_growing_percent', '20']), false);
    t.equal(boundHeapGrowth(['--max-old-space-size=512']), true, 'set beside other flags');
  },
);

t.test("the young generation's size is on every command line that starts wesprint", async (t) => {
  const root = path.resolve(import.meta.dirname, '..');
  const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
  const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
  t.match(scripts.start, `node ${YOUNG_GENERATION_FLAG} bin/wesprint.js start`, 'npm start');
  t.match(scripts.bench, `node ${YOUNG_GENERATION_FLAG} bin/bench.js`, 'npm run bench');
  t.equal(
    read('bin/wesprint.js').split('\n')[0],
    `#!/usr/bin/env -S node ${YOUNG_GENERATION_FLAG}`,
    "the bin's shebang (npx wesprint)",
  );
  t.match(
    read('Dockerfile'),
    `ENTRYPOINT ["node", "${YOUNG_GENERATION_FLAG}", "bin/wesprint.js"]`,
    'the image',
  );
});
