/**
 * One row per (route group, client address, window): the requests counted in that window. Kept in the
 * database so every instance shares one count; rows whose window has passed are swept, never read.
 */
export interface RateLimitsTable {
  /** `<group>|<client ip>|<window start>`. */
  bucket: string;
  count: number;
  /** When the window ends (epoch ms); the row is useless after this. */
  expires_at: number;
}
