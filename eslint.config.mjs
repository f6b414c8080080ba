import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layering of src/ (docs/architecture.md), as lint errors: each folder names the folders it may
 * import; an import of any other is refused. The graph this allows has no loop, so no folder loop can
 * come back. Only main wires everything (and alone may import the sandbox); shared imports no feature.
 */
const LAYERS = {
  shared: [],
  providers: ['shared'],
  config: ['providers', 'shared'],
  db: ['config', 'shared'],
  users: ['db', 'shared'],
  connections: ['db', 'providers', 'users', 'shared'],
  events: ['connections', 'db', 'config', 'shared'],
  incidents: ['connections', 'providers', 'config', 'db', 'shared'],
  metrics: ['incidents', 'providers', 'config', 'db', 'shared'],
  lifecycle: ['incidents', 'connections', 'providers', 'config', 'shared'],
  webhooks: ['connections', 'db', 'shared'],
  'connect-sessions': ['providers', 'db', 'config', 'shared'],
  embeds: ['providers', 'shared'],
  auth: ['connect-sessions', 'connections', 'providers', 'users', 'db', 'shared'],
  api: ['connect-sessions', 'connections', 'embeds', 'incidents', 'lifecycle', 'providers', 'db', 'config', 'shared'],
  http: [
    'api',
    'auth',
    'connect-sessions',
    'connections',
    'embeds',
    'incidents',
    'metrics',
    'lifecycle',
    'webhooks',
    'providers',
    'config',
    'db',
    'shared',
  ],
  sandbox: ['shared'],
  cli: ['main', 'api', 'events', 'connections', 'incidents', 'lifecycle', 'providers', 'config', 'db', 'shared'],
};
// main, the composition root, may import anything.
const FOLDERS = [...Object.keys(LAYERS), 'main'];

function layerRules(folder, allowed) {
  const forbidden = FOLDERS.filter((other) => other !== folder && !allowed.includes(other));
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((other) => ({
            regex: `^(\\.\\./)+${other}(/|$)`,
            message: `src/${folder} may import only ${allowed.length ? allowed.join(', ') : 'its own files'} (docs/architecture.md).`,
          })),
        },
      ],
    },
  };
}

// Rules are errors or off, never warnings: a warning nobody acts on is noise.
export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'bench/results/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  ...Object.entries(LAYERS).map(([folder, allowed]) => layerRules(folder, allowed)),
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['public/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
);
