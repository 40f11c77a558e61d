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

it('only the provider entries (leader-ip/digitalocean, leader-ip/hetzner, leader-ip/vultr) load ky', () => {
  for (const entry of ['digitalocean.ts', 'hetzner.ts', 'vultr.ts'])
    assert.ok(packagesReachedFrom(entry).has('ky'), entry);
  for (const entry of [
    'index.ts',
    'testing.ts',
    'assigners/bind-floating-ip.ts',
    'assigners/floating-ip-assigner.ts',
  ]) {
    assert.ok(!packagesReachedFrom(entry).has('ky'), `${entry} must not import ky`);
  }
});

it('only leader-ip/aws loads aws4fetch and fast-xml-parser, and it does not load ky', () => {
  const aws = packagesReachedFrom('aws.ts');
  assert.ok(aws.has('aws4fetch') && aws.has('fast-xml-parser'));
  assert.ok(!aws.has('ky'), 'leader-ip/aws must not import ky');
  for (const entry of [
    'index.ts',
    'testing.ts',
    'digitalocean.ts',
    'hetzner.ts',
    'vultr.ts',
    'assigners/bind-floating-ip.ts',
  ]) {
    const reached = packagesReachedFrom(entry);
    for (const dep of ['aws4fetch', 'fast-xml-parser']) assert.ok(!reached.has(dep), `${entry} must not import ${dep}`);
  }
});

it('leader-ip/testing does not load devDependencies', () => {
  const reached = packagesReachedFrom('testing.ts');
  for (const dev of ['ajv', 'ajv-formats', 'fast-check', 'tsx']) assert.ok(!reached.has(dev), dev);
});

it('only leader-ip/etcd reaches etcd3 (an optional peer dependency), and loads it only when started', () => {
  assert.ok(packagesReachedFrom('etcd.ts').has('etcd3'));
  for (const entry of ['index.ts', 'testing.ts', 'digitalocean.ts']) {
    assert.ok(!packagesReachedFrom(entry).has('etcd3'), `${entry} must not import etcd3`);
  }
  // Its one value import is the dynamic one in start(): importing the subpath works without etcd3 installed.
  const source = readFileSync(resolve(SRC, 'backends/etcd/etcd-election.ts'), 'utf8');
  const valueImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'etcd3'/gms)];
  assert.deepEqual(valueImports, []);
  assert.match(source, /await import\('etcd3'\)/);
});
