import { expect } from 'chai';
import { addressViolation, checkUrlSyntax, createGuardedLookup } from '../../src/network/ssrf-guard.js';

const strict = { allowLoopback: false, allowPrivate: false };
const open = { allowLoopback: true, allowPrivate: true };

describe('security: the SSRF guard (finding 11)', () => {
  it('refuses IPv4 addresses tunnelled in IPv6 as the IPv4 address they carry', () => {
    const cases: Array<[string, RegExp]> = [
      ['::7f00:1', /127\.0\.0\.1.*loopback/], // IPv4-compatible
      ['::a9fe:a9fe', /169\.254\.169\.254.*never/],
      ['::ffff:169.254.169.254', /never/], // IPv4-mapped
      ['64:ff9b::a9fe:a9fe', /169\.254\.169\.254/], // NAT64
      ['64:ff9b::7f00:1', /loopback/],
      ['2002:7f00:1::', /127\.0\.0\.1/], // 6to4
      ['2002:a9fe:a9fe::1', /never/],
      ['2002:c0a8:0101::1', /192\.168\.1\.1.*private/],
      ['2001:0:4136:e378:8000:63bf:80ff:fffe', /127\.0\.0\.1/], // Teredo, client 127.0.0.1 inverted
    ];
    for (const [address, reason] of cases) expect(addressViolation(address, strict), address).to.match(reason);
    // Always refused whatever the policy says, when the carried address is always refused.
    expect(addressViolation('::a9fe:a9fe', open)).to.match(/never/);
    expect(addressViolation('64:ff9b::808:808', strict)).to.equal(null); // 8.8.8.8 via NAT64
  });

  it('refuses site-local IPv6 and the special-purpose IPv4 blocks', () => {
    for (const address of [
      'fec0::1',
      '198.18.0.1',
      '198.19.255.254',
      '192.0.0.170',
      '192.0.0.8',
      '240.0.0.1',
      '0.1.2.3',
      '169.254.169.254',
      '100.100.100.200',
      'fd00:ec2::254',
    ]) {
      expect(addressViolation(address, open), address).to.match(/never/);
    }
    expect(addressViolation('10.1.2.3', strict)).to.match(/private/);
    expect(addressViolation('10.1.2.3', open)).to.equal(null);
    expect(addressViolation('fd12::1', strict)).to.match(/private/);
    expect(addressViolation('::1', strict)).to.match(/loopback/);
    expect(addressViolation('93.184.216.34', strict)).to.equal(null);
  });

  it('checks names with a trailing dot like the name without it', () => {
    expect(() => checkUrlSyntax('http://localhost./x', strict)).to.throw(/loopback/);
    expect(() => checkUrlSyntax('http://metadata.google.internal./x', open)).to.throw(/metadata/);
    expect(() => checkUrlSyntax('http://[::7f00:1]/x', strict)).to.throw(/loopback/);
    expect(() => checkUrlSyntax('http://[::a9fe:a9fe]/latest/meta-data', open)).to.throw(/never/);
  });

  it('refuses a name that resolves to a tunnelled address', (done) => {
    const lookup = ((_h: string, _o: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) =>
      cb(null, [{ address: '64:ff9b::a9fe:a9fe', family: 6 }])) as never;
    createGuardedLookup(strict, lookup)('evil.example', { all: true }, (err) => {
      expect(err?.message).to.match(/evil\.example resolves to 64:ff9b::a9fe:a9fe/);
      done();
    });
  });
});
