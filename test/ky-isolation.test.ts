import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Every bare package a module imports, following relative imports. */
function packagesReachedFrom(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  };
  visit(resolve(SRC, entry));
  return packages;
}

it('only the provider entries (leader-ip/digitalocean, leader-ip/hetzner) load ky', () => {
  for (const entry of ['digitalocean.ts', 'hetzner.ts']) assert.ok(packagesReachedFrom(entry).has('ky'), entry);
  for (const entry of [
    'index.ts',
    'testing.ts',
    'assigners/bind-floating-ip.ts',
    'assigners/floating-ip-assigner.ts',
  ]) {
    assert.ok(!packagesReachedFrom(entry).has('ky'), `${entry} must not import ky`);
  }
});

it('leader-ip/testing does not load devDependencies', () => {
  const reached = packagesReachedFrom('testing.ts');
  for (const dev of ['ajv', 'ajv-formats', 'fast-check', 'tsx']) assert.ok(!reached.has(dev), dev);
});
