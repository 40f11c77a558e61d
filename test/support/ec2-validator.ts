/**
 * Checks requests to the fake EC2 server against the botocore description of the EC2 API, vendored in
 * test/fixtures/aws/. The `ec2` protocol serialises an input shape as form parameters: a member's wire name is its
 * `queryName`, else its `locationName` capitalised, else its name; structures nest with `.`, lists are flattened as
 * `Name.1`, `Name.2`… (always from 1, without gaps); booleans are `true`/`false`.
 */
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import type { FakeEc2RequestValidator, FakeEc2ResponseValidator } from '../../src/testing/fake-ec2.ts';

interface Member {
  shape: string;
  locationName?: string;
  queryName?: string;
}

interface Shape {
  type: string;
  members?: Record<string, Member>;
  required?: string[];
  member?: Member;
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}

interface Description {
  metadata: { apiVersion: string; protocol: string };
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, Shape>;
}

export const EC2_SPEC_PATH = new URL('../fixtures/aws/ec2-elastic-ip.service-2.json', import.meta.url);

/** Builds a request validator from the vendored description. */
export function createEc2Validator(specPath: URL = EC2_SPEC_PATH): FakeEc2RequestValidator {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Description;
  if (spec.metadata.protocol !== 'ec2') throw new Error('not an ec2-protocol description');

  return (request) => {
    const problems: string[] = [];
    const action = request.params.get('Action');
    const version = request.params.get('Version');
    if (request.params.getAll('Action').length !== 1 || action === null) return ['exactly one Action is required'];
    const operation = spec.operations[action];
    if (operation === undefined) return [`${action} is not an operation of the description`];
    if (version !== spec.metadata.apiVersion)
      problems.push(`Version must be ${spec.metadata.apiVersion}, not ${version}`);
    const input = operation.input === undefined ? undefined : spec.shapes[operation.input.shape];
    const seen = new Map<string, string>();
    for (const [key, value] of request.params) {
      if (key === 'Action' || key === 'Version') continue;
      if (seen.has(key)) problems.push(`${key} is given twice`);
      seen.set(key, value);
      if (input === undefined) {
        problems.push(`${action} takes no parameter, but got ${key}`);
        continue;
      }
      problems.push(...checkParam(spec, input, key.split('.'), value, key));
    }
    if (input !== undefined) problems.push(...checkRequired(input, '', [...seen.keys()]));
    problems.push(...checkListsDense([...seen.keys()]));
    return problems;
  };
}

function wireName(name: string, member: Member): string {
  if (member.queryName !== undefined) return member.queryName;
  if (member.locationName !== undefined) return member.locationName[0]!.toUpperCase() + member.locationName.slice(1);
  return name;
}

function checkParam(spec: Description, shape: Shape, path: string[], value: string, key: string): string[] {
  const [head, ...rest] = path;
  if (shape.type === 'structure') {
    const entry = Object.entries(shape.members ?? {}).find(([name, member]) => wireName(name, member) === head);
    if (entry === undefined) return [`${key}: ${head} is not a member here`];
    return checkParam(spec, spec.shapes[entry[1].shape]!, rest, value, key);
  }
  if (shape.type === 'list') {
    if (head === undefined || !/^[1-9]\d*$/.test(head)) return [`${key}: a list element needs an index from 1`];
    return checkParam(spec, spec.shapes[shape.member!.shape]!, rest, value, key);
  }
  if (head !== undefined) return [`${key}: ${shape.type} has no member ${head}`];
  return checkScalar(shape, value, key);
}

function checkScalar(shape: Shape, value: string, key: string): string[] {
  switch (shape.type) {
    case 'boolean':
      return value === 'true' || value === 'false' ? [] : [`${key}: expected true or false, got ${value}`];
    case 'integer':
    case 'long':
      if (!/^-?\d+$/.test(value)) return [`${key}: expected an integer`];
      if (shape.min !== undefined && Number(value) < shape.min) return [`${key}: below ${shape.min}`];
      if (shape.max !== undefined && Number(value) > shape.max) return [`${key}: above ${shape.max}`];
      return [];
    case 'string':
      if (shape.enum !== undefined && !shape.enum.includes(value))
        return [`${key}: not one of ${shape.enum.join(', ')}`];
      if (shape.pattern !== undefined && !new RegExp(shape.pattern).test(value))
        return [`${key}: does not match ${shape.pattern}`];
      return [];
    default:
      return [`${key}: type ${shape.type} cannot be checked`];
  }
}

// `required` members of the input structure (the nested shapes these actions take require nothing).
function checkRequired(shape: Shape, prefix: string, keys: string[]): string[] {
  if (shape.type !== 'structure') return [];
  const problems: string[] = [];
  for (const [name, member] of Object.entries(shape.members ?? {})) {
    const wire = `${prefix}${wireName(name, member)}`;
    const present = keys.some((k) => k === wire || k.startsWith(`${wire}.`));
    if (shape.required?.includes(name) && !present) problems.push(`${wire} is required`);
  }
  return problems;
}

// A flattened list starts at 1 and has no gaps: `Name.2` without `Name.1` is no list EC2 reads.
function checkListsDense(keys: string[]): string[] {
  const problems: string[] = [];
  for (const key of keys) {
    const parts = key.split('.');
    parts.forEach((part, i) => {
      if (!/^\d+$/.test(part) || part === '1') return;
      const previous = [...parts.slice(0, i), String(Number(part) - 1)].join('.');
      if (!keys.some((k) => k === previous || k.startsWith(`${previous}.`)))
        problems.push(`${key}: ${previous} is missing`);
    });
  }
  return problems;
}

/**
 * Builds a reply validator: a success must be `<{Action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
 * whose elements are the output shape's members by `locationName` (lists as `item`s), plus the protocol's own
 * `requestId` and `return` (EC2 sends `<return>true</return>`; botocore's shapes leave it out). An error must be
 * `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 */
export function createEc2ResponseValidator(specPath: URL = EC2_SPEC_PATH): FakeEc2ResponseValidator {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as Description & {
    operations: Record<string, { output?: { shape: string } }>;
  };
  const namespace = `http://ec2.amazonaws.com/doc/${spec.metadata.apiVersion}/`;
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseTagValue: false,
    isArray: (n) => n === 'item',
  });
  return (request, status, xml) => {
    let doc: Record<string, unknown>;
    try {
      doc = parser.parse(xml, true) as Record<string, unknown>;
    } catch (error) {
      return [`not well-formed XML: ${String(error)}`];
    }
    const roots = Object.keys(doc).filter((k) => k !== '?xml');
    if (status >= 300) {
      const errors = (doc.Response as Record<string, unknown> | undefined)?.Errors as
        | Record<string, unknown>
        | undefined;
      const error = errors?.Error as Record<string, unknown> | undefined;
      const problems: string[] = [];
      if (roots.join() !== 'Response') problems.push(`an error's root must be Response, not ${roots.join()}`);
      if (typeof error?.Code !== 'string' || typeof error?.Message !== 'string')
        problems.push('Errors/Error needs Code and Message');
      if (typeof (doc.Response as Record<string, unknown> | undefined)?.RequestID !== 'string')
        problems.push('RequestID is missing');
      return problems;
    }
    const action = request.params.get('Action') ?? '';
    const root = `${action}Response`;
    if (roots.join() !== root) return [`the root must be ${root}, not ${roots.join()}`];
    const body = doc[root] as Record<string, unknown>;
    const problems: string[] = [];
    if (body['@xmlns'] !== namespace) problems.push(`xmlns must be ${namespace}`);
    if (typeof body.requestId !== 'string') problems.push('requestId is missing');
    const output = spec.operations[action]?.output;
    const shape: Shape = output === undefined ? { type: 'structure', members: {} } : spec.shapes[output.shape]!;
    const rest = Object.fromEntries(
      Object.entries(body).filter(([k]) => k !== '@xmlns' && k !== 'requestId' && k !== 'return'),
    );
    problems.push(...checkXml(spec, shape, rest, root));
    return problems;
  };
}

function checkXml(spec: Description, shape: Shape, node: unknown, where: string): string[] {
  if (shape.type === 'structure') {
    if (node === '') return [];
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return [`${where}: expected elements`];
    const problems: string[] = [];
    for (const [name, value] of Object.entries(node)) {
      const entry = Object.entries(shape.members ?? {}).find(([member, m]) => (m.locationName ?? member) === name);
      if (entry === undefined) problems.push(`${where}/${name} is not a member of the output shape`);
      else problems.push(...checkXml(spec, spec.shapes[entry[1].shape]!, value, `${where}/${name}`));
    }
    return problems;
  }
  if (shape.type === 'list') {
    if (node === '') return [];
    const itemName = shape.member?.locationName ?? 'member';
    if (typeof node !== 'object' || node === null) return [`${where}: expected ${itemName} elements`];
    const problems: string[] = [];
    for (const [name, items] of Object.entries(node)) {
      if (name !== itemName) problems.push(`${where}/${name}: list elements are ${itemName}`);
      else
        for (const item of items as unknown[])
          problems.push(...checkXml(spec, spec.shapes[shape.member!.shape]!, item, `${where}/${name}`));
    }
    return problems;
  }
  if (typeof node !== 'string') return [`${where}: expected text`];
  return checkScalar(shape, node, where);
}
