import { createApiKey } from '../../src/api/api-keys';
import type { TestApp } from '../support/harness';

/** A fresh API key for the test app, made the way `api-keys create` makes one. */
export async function apiKey(app: TestApp, name = 'test backend'): Promise<{ id: string; key: string }> {
  const { id, key } = await createApiKey(app.container.db, name, app.clock.now());
  return { id, key };
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
