#!/usr/bin/env node
// `npm run bench`: the benchmarks, TypeScript run through tsx as the CLI is. Not a `wesprint` command: the
// bench composes the system as the CLI does (cli/parts.ts), so the CLI must not import the bench.
import { register } from 'tsx/esm/api';

register();
const { runBench } = await import('../bench/run.ts');
process.exitCode = await runBench(process.argv.slice(2));
