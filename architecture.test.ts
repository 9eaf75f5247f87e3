import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';

/**
 * The arrows between the top-level folders (ARCHITECTURE.md), read from the imports of every file that is
 * not a test or a test fixture: the parts of the building import nothing from the places a person meets
 * them (the command, the HTTP API, benchmarks, test fixtures, the dashboard), `building/` (the building's
 * vocabulary) imports only the site file, no two folders import each other, directly or around a circle,
 * and no part reads the environment (cli/settings.ts does, and hands the parts what they need).
 */

const ROOT = import.meta.dirname;
/** Where a person meets the system; they may import any part, and no part imports them. */
const EDGES = new Set(['api', 'cli', 'bench', 'test-support', 'dashboard', 'bin']);
/** What the building's vocabulary may import besides itself. */
const BUILDING_MAY_IMPORT = new Set(['site']);
const SKIP_DIRS = new Set(['node_modules', 'data', 'dist', 'test-output', '.tap', '.git']);

interface Import {
  /** Repository path of the importing file. */
  from: string;
  /** Repository path of the imported file. */
  to: string;
}

/** A repository path's top-level folder ('' for a file at the top). */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 1 ? (parts[0] as string) : '';
}

/**
 * Tests and their fixtures stand outside: their imports are not arrows between the parts. A part's own tests
 * may use the fixtures of test-support/, but not the edges themselves (issue 9: the bookings and alerts tests
 * took theirs from api/).
 */
function isTest(file: string): boolean {
  return (
    /\.test\.ts$/.test(file) ||
    file.startsWith('test-support/') ||
    file.startsWith('dashboard/browser-tests/')
  );
}

/** Every .ts and .svelte file of the repository, as repository paths. */
function repositoryFiles(root: string = ROOT): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(path.join(dir, entry.name));
        continue;
      }
      if (!/\.(ts|svelte)$/.test(entry.name) || entry.name.endsWith('.d.ts')) continue;
      found.push(path.relative(root, path.join(dir, entry.name)).split(path.sep).join('/'));
    }
  };
  walk(root);
  return found.sort();
}

/** The relative imports of a file's text (static, type-only, re-exports and dynamic `import()`). */
function importsOf(file: string, text: string): Import[] {
  // A Svelte component's imports are in its <script> blocks.
  const code = file.endsWith('.svelte')
    ? [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n')
    : text;
  const info = ts.preProcessFile(code, true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({
      from: file,
      to: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)),
    }));
}

/** What breaks the rules, one sentence per import (empty when the arrows are right). */
function wrongArrows(imports: Import[]): string[] {
  const wrong: string[] = [];
  for (const { from, to } of imports) {
    const source = folderOf(from);
    const target = folderOf(to);
    if (source === target || source === '' || to.startsWith('..')) continue;
    if (!EDGES.has(source) && EDGES.has(target))
      wrong.push(`${from} imports ${to}: ${source}/ is a part of the building, ${target}/ one of its edges`);
    if (source === 'building' && !BUILDING_MAY_IMPORT.has(target))
      wrong.push(`${from} imports ${to}: building/ imports only ${[...BUILDING_MAY_IMPORT].join(', ')}/`);
  }
  return wrong;
}

/** What the tests of the parts import from the edges, test-support/ aside. */
function testsUsingEdges(imports: Import[]): string[] {
  return imports
    .filter(({ from, to }) => {
      const target = folderOf(to);
      return (
        !EDGES.has(folderOf(from)) && EDGES.has(target) && target !== 'test-support' && !to.startsWith('..')
      );
    })
    .map(({ from, to }) => `${from} imports ${to}: a part's tests take their fixtures from test-support/`);
}

/** The parts' files that read the environment themselves. */
function partsReadingTheEnvironment(files: { file: string; text: string }[]): string[] {
  return files
    .filter(
      ({ file, text }) =>
        folderOf(file) !== '' && !EDGES.has(folderOf(file)) && /\bprocess\.env\b/.test(text),
    )
    .map(
      ({ file }) =>
        `${file} reads process.env: cli/settings.ts reads the environment and hands the parts what they need`,
    );
}

/** Folders that import each other, directly or around a circle, each circle with one import per arrow. */
function folderCycles(imports: Import[]): string[] {
  const example = new Map<string, Import>();
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const a = folderOf(i.from);
    const b = folderOf(i.to);
    if (a === b || a === '' || b === '' || i.to.startsWith('..')) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)?.add(b);
    if (!example.has(`${a}>${b}`)) example.set(`${a}>${b}`, i);
  }
  // Tarjan's strongly connected components: a component of more than one folder holds a circle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => {
    const inside = new Set(component);
    const arrows = [...example.entries()]
      .filter(([key]) => {
        const [a, b] = key.split('>') as [string, string];
        return inside.has(a) && inside.has(b);
      })
      .map(([, i]) => `${i.from} -> ${i.to}`);
    return `${component.join(', ')} import each other: ${arrows.join('; ')}`;
  });
}

function repositoryImports(which: (file: string) => boolean): Import[] {
  return repositoryFiles()
    .filter(which)
    .flatMap((file) => importsOf(file, fs.readFileSync(path.join(ROOT, file), 'utf8')));
}

t.test('the rules find what they are about (on made-up imports)', async (t) => {
  t.same(importsOf('storage/open.ts', "import type { Settings } from '../cli/settings.ts';"), [
    { from: 'storage/open.ts', to: 'cli/settings.ts' },
  ]);
  t.same(
    importsOf('cli/main.ts', "const { runBench } = await import('../bench/run.ts'); import 'node:fs';"),
    [{ from: 'cli/main.ts', to: 'bench/run.ts' }],
    'dynamic imports count, packages do not',
  );
  t.same(
    importsOf(
      'dashboard/src/A.svelte',
      '<script lang="ts">\nimport B from \'./B.svelte\';\n</script>\n<p>import</p>',
    ),
    [{ from: 'dashboard/src/A.svelte', to: 'dashboard/src/B.svelte' }],
  );
  t.match(wrongArrows([{ from: 'storage/open.ts', to: 'cli/settings.ts' }]), [
    /storage\/open\.ts imports cli/,
  ]);
  t.match(wrongArrows([{ from: 'alerts/alert-watch.ts', to: 'api/building-feed.ts' }]), [
    /alerts\/ is a part/,
  ]);
  t.match(wrongArrows([{ from: 'building/topics.ts', to: 'gateway/gateway.ts' }]), [
    /building\/ imports only/,
  ]);
  t.same(wrongArrows([{ from: 'cli/parts.ts', to: 'storage/open.ts' }]), [], 'an edge imports a part');
  t.same(wrongArrows([{ from: 'building/topics.ts', to: 'site/site.ts' }]), []);
  t.match(
    folderCycles([
      { from: 'members/identity.ts', to: 'access/guess-throttle.ts' },
      { from: 'access/unlock-rules.ts', to: 'members/roles.ts' },
      { from: 'api/app.ts', to: 'members/identity.ts' },
    ]),
    [
      'access, members import each other: members/identity.ts -> access/guess-throttle.ts; access/unlock-rules.ts -> members/roles.ts',
    ],
  );
  t.match(
    folderCycles([
      { from: 'a/x.ts', to: 'b/x.ts' },
      { from: 'b/x.ts', to: 'c/x.ts' },
      { from: 'c/x.ts', to: 'a/x.ts' },
    ]),
    [/^a, b, c import each other/],
    'around a circle',
  );
});

t.test(
  'the repository: parts import no edge, building/ only site/, no folders import each other',
  async (t) => {
    const imports = repositoryImports((file) => !isTest(file));
    t.ok(imports.length > 500, `the imports are read (${imports.length})`);
    t.same(wrongArrows(imports), [], 'no import runs the wrong way');
    t.same(folderCycles(imports), [], 'no folders import each other');
  },
);

t.test("the parts' tests take their fixtures from test-support/, not from the edges", async (t) => {
  t.match(testsUsingEdges([{ from: 'alerts/alert-watch.test.ts', to: 'api/test-session.ts' }]), [
    /alerts\/alert-watch/,
  ]);
  t.same(testsUsingEdges([{ from: 'bookings/check-in.test.ts', to: 'test-support/members.ts' }]), []);
  t.same(testsUsingEdges([{ from: 'api/auth.test.ts', to: 'cli/settings.ts' }]), [], "an edge's tests may");
  const imports = repositoryImports((file) => isTest(file) && file.endsWith('.ts'));
  t.ok(imports.length > 300, `the tests' imports are read (${imports.length})`);
  t.same(testsUsingEdges(imports), []);
});

t.test('no part reads the environment', async (t) => {
  t.match(
    partsReadingTheEnvironment([
      { file: 'alerts/alert-rules.ts', text: 'export function f(env = process.env) {}' },
      { file: 'cli/settings.ts', text: 'readSettings(process.env)' },
    ]),
    [/^alerts\/alert-rules\.ts reads process\.env/],
  );
  const files = repositoryFiles()
    .filter((file) => !isTest(file))
    .map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), 'utf8') }));
  t.same(partsReadingTheEnvironment(files), []);
});

/**
 * The Node-RED palette is a package of its own, installed alone into a Node-RED (`npm install <folder>`): its
 * files require nothing of the repository outside their folder, and no package it does not declare.
 */
const PALETTE = 'node-red';

function paletteRequires(files: { file: string; text: string }[], declared: ReadonlySet<string>): string[] {
  const wrong: string[] = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) {
        const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
        if (!to.startsWith(`${PALETTE}/`))
          wrong.push(`${file} requires ${to}, outside the palette's package`);
        continue;
      }
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@')
        ? spec.split('/').slice(0, 2).join('/')
        : (spec.split('/')[0] as string);
      if (!declared.has(name))
        wrong.push(`${file} requires ${name}, which the palette's package.json does not declare`);
    }
  }
  return wrong;
}

t.test('the Node-RED palette is a package of its own', async (t) => {
  t.match(
    paletteRequires(
      [
        {
          file: `${PALETTE}/nodes/a.js`,
          text: "require('../../site/load.ts'); require('mqtt'); require('ws')",
        },
        { file: `${PALETTE}/nodes/b.js`, text: "require('../lib/x.js'); require('node:fs')" },
      ],
      new Set(['ws']),
    ),
    [/a\.js requires site\/load\.ts, outside/, /a\.js requires mqtt, which/],
  );
  const root = path.join(ROOT, PALETTE);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    files?: string[];
    'node-red'?: { nodes?: Record<string, string> };
  };
  const files: { file: string; text: string }[] = [];
  for (const folder of ['nodes', 'lib'])
    for (const name of fs.readdirSync(path.join(root, folder)).filter((n) => n.endsWith('.js')))
      files.push({
        file: `${PALETTE}/${folder}/${name}`,
        text: fs.readFileSync(path.join(root, folder, name), 'utf8'),
      });
  t.ok(files.length >= 6, `the palette's files are read (${files.length})`);
  t.same(paletteRequires(files, new Set(Object.keys(pkg.dependencies ?? {}))), []);
  for (const [type, file] of Object.entries(pkg['node-red']?.nodes ?? {})) {
    t.ok(fs.existsSync(path.join(root, file)), `${type}: ${file} exists`);
    t.ok(fs.existsSync(path.join(root, file.replace(/\.js$/, '.html'))), `${type}: its editor and help`);
  }
});
