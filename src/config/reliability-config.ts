import { type EnvReader, rangeMessage, wholeNumber } from '../shared/env';

/**
 * Settings that keep igconnect up on bad days: the HTTP server's own timeouts and connection cap, and
 * how rate limits group clients. Parsed from the same environment as the rest of the configuration
 * (loadConfig keeps the result as `config.reliability`); every value
 * has a default that suits a small deployment.
 */
export interface ServerLimits {
  /** Longest a client may take to send its request headers (slow clients are cut off after this). */
  headersTimeoutMs: number;
  /** Longest a client may take to send a whole request, body included. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open for the next request. */
  keepAliveTimeoutMs: number;
  /** Most connections open at once; the server refuses more (a flood cannot exhaust file descriptors). */
  maxConnections: number;
}

export interface RateLimitGrouping {
  /** IPv6 clients are counted per network of this prefix length: one person's /64 is one address. */
  ipv6Prefix: number;
  /**
   * The per-address ceiling is the route's limit times this: people behind one NAT each get the route's
   * limit for their own browser, and all of them together this many times it.
   */
  addressFactor: number;
}

export interface ReliabilityConfig {
  server: ServerLimits;
  rateLimits: RateLimitGrouping;
}

export const DEFAULT_RELIABILITY: ReliabilityConfig = {
  server: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1_000 },
  rateLimits: { ipv6Prefix: 64, addressFactor: 10 },
};

/** Reads the reliability settings, recording each problem on the reader (as loadConfig does). */
export function readReliability(reader: EnvReader): ReliabilityConfig {
  const number = (name: string, fallback: number, min: number, max: number): number =>
    reader.read(name, wholeNumber(rangeMessage(name, min, max), min, max), String(fallback)) ?? fallback;
  const d = DEFAULT_RELIABILITY;
  const server: ServerLimits = {
    headersTimeoutMs: number('SERVER_HEADERS_TIMEOUT_MS', d.server.headersTimeoutMs, 1000, 600_000),
    requestTimeoutMs: number('SERVER_REQUEST_TIMEOUT_MS', d.server.requestTimeoutMs, 1000, 3_600_000),
    keepAliveTimeoutMs: number('SERVER_KEEP_ALIVE_TIMEOUT_MS', d.server.keepAliveTimeoutMs, 100, 600_000),
    maxConnections: number('SERVER_MAX_CONNECTIONS', d.server.maxConnections, 10, 1_000_000),
  };
  if (server.requestTimeoutMs < server.headersTimeoutMs) {
    reader.problem('SERVER_REQUEST_TIMEOUT_MS must not be shorter than SERVER_HEADERS_TIMEOUT_MS');
  }
  return {
    server,
    rateLimits: {
      ipv6Prefix: number('RATE_LIMIT_IPV6_PREFIX', d.rateLimits.ipv6Prefix, 32, 128),
      addressFactor: number('RATE_LIMIT_ADDRESS_FACTOR', d.rateLimits.addressFactor, 1, 1000),
    },
  };
}
