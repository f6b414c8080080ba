import type { ProviderDefinition } from './provider-definition';

/**
 * The configured providers by id, built once in the composition root. Whatever acts on a stored
 * connection takes the definition its `provider` column names from here, never a default.
 */
export class ProviderRegistry {
  private readonly byId: ReadonlyMap<string, ProviderDefinition>;

  constructor(definitions: ProviderDefinition[]) {
    this.byId = new Map(definitions.map((d) => [d.id, d]));
    if (this.byId.size !== definitions.length) throw new Error('two providers share one id');
  }

  /** The definition for a stored connection or a route; unknown ids are a programming or setup error. */
  get(id: string): ProviderDefinition {
    const definition = this.byId.get(id);
    if (!definition) throw new Error(`provider "${id}" is not configured`);
    return definition;
  }

  find(id: string): ProviderDefinition | undefined {
    return this.byId.get(id);
  }

  all(): ProviderDefinition[] {
    return [...this.byId.values()];
  }
}
