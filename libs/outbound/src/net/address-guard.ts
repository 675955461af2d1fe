import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { IpAllowList } from '@hookhub/core';

/** Ranges an outbound request may not reach unless allowed: loopback, private, link-local, CGNAT, multicast, reserved. */
const BLOCKED_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'a "this network" address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol address'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.88.99.0', 24, 'a 6to4 relay address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];
const BLOCKED_V6: Array<[string, number, string]> = [
  ['::1', 128, 'a loopback address'],
  ['::', 96, 'an unspecified or IPv4-compatible address'],
  ['100::', 64, 'a discard address'],
  ['2001::', 23, 'an IETF protocol address'],
  ['2001:db8::', 32, 'a documentation address'],
  ['fc00::', 7, 'a unique-local (private) address'],
  ['fe80::', 10, 'a link-local address'],
  ['fec0::', 10, 'a site-local address'],
  ['ff00::', 8, 'a multicast address'],
];

function lists(ranges: Array<[string, number, string]>, family: 'ipv4' | 'ipv6'): Array<[BlockList, string]> {
  return ranges.map(([address, prefix, why]) => {
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    return [list, why];
  });
}
const V4 = lists(BLOCKED_V4, 'ipv4');
const V6 = lists(BLOCKED_V6, 'ipv6');

/** Expands an IPv6 address to its eight 16-bit groups. */
function groups(address: string): number[] {
  let text = address.toLowerCase().split('%')[0];
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - left.length - right.length).fill('0') : [];
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/** The IPv4 address an IPv6 address carries, for the forms that route to it (mapped, NAT64, 6to4). */
export function embeddedIpv4(address: string): string | null {
  const g = groups(address);
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated)
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return v4(g[6], g[7]);
  if (g.slice(0, 4).every((x) => x === 0) && g[4] === 0xffff && g[5] === 0) return v4(g[6], g[7]);
  // 64:ff9b::a.b.c.d (NAT64)
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g[6], g[7]);
  // 2002:aabb:ccdd::/48 (6to4)
  if (g[0] === 0x2002) return v4(g[1], g[2]);
  return null;
}

/** Raised when a destination is refused; `code` is EHOOKHUB_ADDRESS_BLOCKED. */
export class BlockedAddressError extends Error {
  readonly code = 'EHOOKHUB_ADDRESS_BLOCKED';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(
      `${host === address ? address : `${host} resolves to ${address}, which`} is ${reason}; outbound requests may not reach it unless HOOKHUB_OUTBOUND_ALLOW lists it`,
    );
    this.name = 'BlockedAddressError';
  }
}

/**
 * Decides which addresses outbound requests may reach, and resolves host names for them. Every address a
 * name resolves to is checked (one private answer refuses the name, so DNS cannot slip one in). Callers
 * connect to an address {@link resolve} returned, never to the name again, so there is no second resolution
 * between the check and the connect (a socket's `lookup` hook would not do: Node skips it for IP literals).
 */
export class AddressGuard {
  private readonly allowed: IpAllowList;

  constructor(allow: readonly string[] = []) {
    this.allowed = new IpAllowList(allow);
  }

  /** Why `address` (an IP) is refused, or null when it may be reached. */
  refusal(address: string): string | null {
    const family = isIP(address);
    if (!family) return 'not an IP address';
    if (this.allowed.allows(address)) return null;
    if (family === 4) return V4.find(([list]) => list.check(address, 'ipv4'))?.[1] ?? null;
    const carried = embeddedIpv4(address);
    if (carried) {
      if (this.allowed.allows(carried)) return null;
      const why = V4.find(([list]) => list.check(carried, 'ipv4'))?.[1];
      if (why) return `${why} (${carried}, inside the IPv6 address)`;
    }
    return V6.find(([list]) => list.check(address, 'ipv6'))?.[1] ?? null;
  }

  /** Resolves `host` and checks every address; throws {@link BlockedAddressError} if any is refused. */
  async resolve(host: string): Promise<LookupAddress[]> {
    const bare = host.replace(/^\[(.*)\]$/, '$1');
    const addresses: LookupAddress[] = isIP(bare)
      ? [{ address: bare, family: isIP(bare) }]
      : await new Promise((resolve, reject) =>
          dnsLookup(bare, { all: true, verbatim: true }, (err, list) => (err ? reject(err) : resolve(list))),
        );
    for (const { address } of addresses) {
      const why = this.refusal(address);
      if (why) throw new BlockedAddressError(bare, address, why);
    }
    return addresses;
  }
}
