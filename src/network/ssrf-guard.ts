import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { ValidationError } from '../errors.js';

/**
 * The SSRF guard for every URL pollgate calls on someone's behalf (providers, callbacks). Link-local
 * and cloud metadata addresses are always refused; private ranges unless `allowPrivate`; loopback
 * unless `allowLoopback`. Checked on the URL when it is configured, and again on the resolved
 * addresses when connecting (the guarded lookup), so DNS cannot be used to get around it.
 */
export interface NetworkPolicy {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

export class BlockedAddressError extends Error {
  readonly code = 'BLOCKED';
  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

// Ranges by ipaddr.js's names (its `range()` of an address); anything not listed is public.
const ALWAYS_REFUSED = new Set([
  'unspecified',
  'broadcast',
  'multicast',
  'linkLocal',
  'reserved',
  'as112',
  'amt', // IPv4: 169.254/16 (metadata), 192.0.0/24, 198.18/15, 240/4, …
  'discard',
  'benchmarking',
  'as112v6',
  'deprecated',
  'orchid2',
  'droneRemoteIdProtocolEntityTags', // IPv6 special purpose
]);
const PRIVATE = new Set(['private', 'carrierGradeNat', 'uniqueLocal']);
const LOOPBACK = 'loopback';

// What ipaddr.js has no range for: metadata addresses and the deprecated IPv6 site-local prefix.
const alsoRefused = new BlockList();
alsoRefused.addAddress('100.100.100.200', 'ipv4'); // Alibaba metadata
alsoRefused.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
alsoRefused.addSubnet('fec0::', 10, 'ipv6'); // site-local (deprecated, private in effect)

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.internal']);

/**
 * The IPv4 address an IPv6 address carries, for the ways of tunnelling one: IPv4-mapped
 * (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d, e.g. [::7f00:1]), SIIT (::ffff:0:a.b.c.d), NAT64
 * (64:ff9b::/96), 6to4 (2002:AABB:CCDD::/48) and Teredo (the client address, inverted).
 */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = ip.parts;
  const fromWords = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (ip.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
    case 'rfc6052':
      return fromWords(p[6], p[7]);
    case '6to4':
      return fromWords(p[1], p[2]);
    case 'teredo':
      return fromWords(p[6] ^ 0xffff, p[7] ^ 0xffff);
  }
  const compatible = p.slice(0, 6).every((w) => w === 0) && (p[6] !== 0 || p[7] > 1);
  return compatible ? fromWords(p[6], p[7]) : null;
}

/** Why an address is refused under the policy, or null when it is allowed. */
export function addressViolation(raw: string, policy: NetworkPolicy): string | null {
  if (!ipaddr.isValid(raw)) return 'not an IP address';
  const parsed = ipaddr.parse(raw);
  const inner = parsed.kind() === 'ipv6' ? embeddedIPv4(parsed as ipaddr.IPv6) : null;
  if (inner) {
    const violation = addressViolation(inner.toString(), policy);
    return violation && `it carries the IPv4 address ${inner.toString()}: ${violation}`;
  }
  const range = parsed.range();
  if (ALWAYS_REFUSED.has(range) || alsoRefused.check(parsed.toString(), parsed.kind()))
    return 'link-local, cloud metadata and reserved addresses are never allowed';
  if (!policy.allowLoopback && range === LOOPBACK) return 'loopback addresses are not allowed (network.allowLoopback is false)';
  if (!policy.allowPrivate && PRIVATE.has(range)) return 'private network addresses are not allowed (network.allowPrivate is false)';
  return null;
}

/**
 * WHATWG URL already turns 2130706433, 0x7f.1 and 017700000001 into dotted IPv4; strip IPv6
 * brackets and a name's trailing dots (`localhost.` is `localhost`).
 */
function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '')
    .toLowerCase();
}

/** Checks a URL as written (scheme, credentials, literal addresses, known names); 400 naming the rule. */
export function checkUrlSyntax(raw: string, policy: NetworkPolicy, what = 'URL'): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${what} "${raw}" is not a valid absolute URL`);
  }
  const refuse = (rule: string) => {
    throw new ValidationError(`${what} ${url.origin}/ is refused: ${rule}`, [{ rule }]);
  };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('only http and https are allowed');
  if (url.username || url.password) refuse('credentials in the URL are not allowed; use the auth settings');
  const host = hostOf(url);
  if (METADATA_HOSTS.has(host)) refuse('link-local, cloud metadata and reserved addresses are never allowed');
  if ((host === 'localhost' || host.endsWith('.localhost')) && !policy.allowLoopback)
    refuse('loopback addresses are not allowed (network.allowLoopback is false)');
  if (isIP(host)) {
    const violation = addressViolation(host, policy);
    if (violation) refuse(violation);
  }
  return url;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup for got's `dnsLookup`: resolves, refuses any address the policy forbids. */
export function createGuardedLookup(policy: NetworkPolicy, lookup: typeof dns.lookup = dns.lookup) {
  return (hostname: string, options: LookupOptions | number | LookupCallback, callback?: LookupCallback): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const opts: LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
    lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return cb(err, '');
      const list = addresses as LookupAddress[];
      for (const a of list) {
        const violation = addressViolation(a.address, policy);
        if (violation) return cb(new BlockedAddressError(`${hostname} resolves to ${a.address}: ${violation}`), '');
      }
      if (opts.all) return cb(null, list);
      cb(null, list[0].address, list[0].family);
    });
  };
}

/** Resolves a URL's host and refuses it if any address violates the policy. */
export async function resolveAndCheck(raw: string, policy: NetworkPolicy, lookup: typeof dns.lookup = dns.lookup): Promise<void> {
  const url = checkUrlSyntax(raw, policy);
  const host = hostOf(url);
  if (isIP(host)) return;
  const guarded = createGuardedLookup(policy, lookup);
  await new Promise<void>((resolve, reject) => guarded(host, { all: true }, (err) => (err ? reject(err) : resolve())));
}
