import { type InstagramConfig, parseInstagramConfig } from './instagram.config';
import type { ProviderConfigContext } from './provider-config';

/** Every provider's section of the configuration; src/config/config.ts hands each one the environment. */
export interface ProvidersConfig {
  instagram: InstagramConfig;
}

export function parseProvidersConfig(context: ProviderConfigContext): ProvidersConfig {
  return { instagram: parseInstagramConfig(context) };
}
