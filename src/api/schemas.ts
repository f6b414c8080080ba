import { z } from 'zod';

/** Shapes shared by the API's operations (validation and the OpenAPI document). */
export const connectionId = z.object({
  id: z.string().regex(/^[0-9a-f-]{36}$/, 'not a connection id'),
});

const isoTime = z.string().describe('ISO 8601 UTC');

/** The connection as the API and events show it (src/api/connection-resource.ts). */
export const connectionSchema = z.object({
  id: z.string(),
  provider: z.string(),
  end_user_id: z.string().nullable(),
  instagram_user_id: z.string().describe('The Instagram professional account id, an exact string'),
  username: z.string(),
  name: z.string().nullable(),
  account_type: z.string().nullable(),
  profile_picture_url: z.string().nullable(),
  status: z.enum(['active', 'needs_reconnect']),
  status_reason: z.string().nullable(),
  scopes_granted: z.array(z.string()),
  scopes_declined: z.array(z.string()),
  token_expires_at: isoTime.nullable(),
  token_refreshed_at: isoTime.nullable(),
  last_checked_at: isoTime.nullable(),
  created_at: isoTime,
  updated_at: isoTime,
});

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
