import { type FacebookConfig, parseFacebookConfig } from './facebook.config';
import { type InstagramConfig, parseInstagramConfig } from './instagram.config';
import type { ProviderConfigContext } from './provider-config';

/** Every provider's section of the configuration; src/config/config.ts hands each one the environment. */
export interface ProvidersConfig {
  /** Absent only in production without INSTAGRAM_APP_ID when Facebook Login is configured. */
  instagram: InstagramConfig | undefined;
  /** Absent without FACEBOOK_APP_ID: nothing of that provider is offered. */
  facebook: FacebookConfig | undefined;
}

export function parseProvidersConfig(context: ProviderConfigContext): ProvidersConfig {
  const facebook = parseFacebookConfig(context);
  return { instagram: parseInstagramConfig(context, { otherProviderConfigured: facebook !== undefined }), facebook };
}
