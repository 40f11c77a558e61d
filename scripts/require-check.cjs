// CommonJS use of the ESM-only package: Node >= 20.19 loads ES modules with require() (no top-level await in
// the package). Run by scripts/check-tarball.ts inside an app that has the packed tarball installed.
const assert = require('node:assert/strict');
const leaderIp = require('leader-ip');
const testing = require('leader-ip/testing');
assert.equal(typeof leaderIp.ElectionNode, 'function');
assert.equal(typeof leaderIp.bindFloatingIp, 'function');
assert.equal(typeof testing.MockFloatingIpAssigner, 'function');
