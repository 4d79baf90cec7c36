import { BlockList, isIP } from 'node:net';
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

const always = new BlockList();
always.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, incl. 169.254.169.254 metadata
always.addSubnet('0.0.0.0', 8, 'ipv4');
always.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
always.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, broadcast
always.addAddress('100.100.100.200', 'ipv4'); // Alibaba metadata
always.addSubnet('fe80::', 10, 'ipv6');
always.addSubnet('ff00::', 8, 'ipv6');
always.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
always.addAddress('::', 'ipv6');

const privateNets = new BlockList();
privateNets.addSubnet('10.0.0.0', 8, 'ipv4');
privateNets.addSubnet('172.16.0.0', 12, 'ipv4');
privateNets.addSubnet('192.168.0.0', 16, 'ipv4');
privateNets.addSubnet('100.64.0.0', 10, 'ipv4');
privateNets.addSubnet('fc00::', 7, 'ipv6');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.internal']);

/** An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it carries. */
function normalize(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

/** Why an address is refused under the policy, or null when it is allowed. */
export function addressViolation(raw: string, policy: NetworkPolicy): string | null {
  const { address, family } = normalize(raw);
  if (always.check(address, family)) return 'link-local, cloud metadata and reserved addresses are never allowed';
  if (!policy.allowLoopback && loopback.check(address, family)) return 'loopback addresses are not allowed (network.allowLoopback is false)';
  if (!policy.allowPrivate && privateNets.check(address, family)) return 'private network addresses are not allowed (network.allowPrivate is false)';
  return null;
}

/** WHATWG URL already turns 2130706433, 0x7f.1 and 017700000001 into dotted IPv4; strip IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
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
  if ((host === 'localhost' || host.endsWith('.localhost')) && !policy.allowLoopback) refuse('loopback addresses are not allowed (network.allowLoopback is false)');
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
