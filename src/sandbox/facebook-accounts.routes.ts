import type { Router } from 'express';
import type { FacebookSandboxControl } from './facebook-control';
import type { FacebookState } from './facebook-state';
import { OEMBED_POSTS } from './facebook-wire';
import { formBody, redirect, routeParam, type SandboxRouteContext } from './sandbox-http';
import { avatarSvg } from './sandbox-views';

/**
 * The Facebook test people on the accounts page: their buttons (what a person or Meta can do: revoke,
 * change the password, lose a Page role, remove the app, ask for data deletion), and the generated
 * pictures the Graph answers point at (Instagram avatars, oEmbed thumbnails).
 */

interface PersonAction {
  /** Completes "… <name>." on the accounts page after the button was pressed. */
  notice: string;
  run(control: FacebookSandboxControl, personId: string): unknown;
}

const PERSON_ACTIONS = {
  revoke: { notice: 'Revoked every Facebook token of', run: (control, id) => control.revokeTokens(id) },
  password: {
    notice: 'Simulated a Facebook password change (tokens invalidated) for',
    run: (control, id) => control.changePassword(id),
  },
  remove: {
    notice: 'Removed the Facebook app (tokens invalidated, signed deauthorize callback sent to the app) for',
    run: (control, id) => control.removeApp(id),
  },
  'delete-data': {
    notice: 'Sent a signed Facebook data-deletion request to the app for',
    run: (control, id) => control.requestDataDeletion(id),
  },
} satisfies Record<string, PersonAction>;

type PersonActionName = keyof typeof PERSON_ACTIONS;

function personActionNamed(name: string): PersonActionName | undefined {
  return Object.hasOwn(PERSON_ACTIONS, name) ? (name as PersonActionName) : undefined;
}

/** The sentence shown after a Facebook button, from the `notice` query value it redirected with. */
export function facebookNotice(notice: string, facebook: FacebookState): string | undefined {
  const match = /^fb-([a-z-]+):(\d+)(?::(\d+))?$/.exec(notice);
  const person = match?.[2] === undefined ? undefined : facebook.findPerson(match[2]);
  if (!match?.[1] || !person) return undefined;
  if (match[1] === 'remove-role') {
    const page = person.pages.find((p) => p.id === match[3]);
    return page ? `${person.name} no longer has a role on the Page ${page.name}; its tokens are invalid.` : undefined;
  }
  const action = personActionNamed(match[1]);
  return action ? `${PERSON_ACTIONS[action].notice} ${person.name}.` : undefined;
}

/** The Facebook people as the accounts page lists them. */
export function facebookPeopleCards(context: SandboxRouteContext) {
  const { facebook, options } = context;
  return facebook.people().map((person) => {
    const current = new Set(facebook.pagesOf(person).map((page) => page.id));
    return {
      id: person.id,
      name: person.name,
      tester: person.tester,
      activeTokens: facebook.activeTokenCount(person.id),
      dataAccessExpiresAt: facebook.dataAccessExpiresAt(person.id),
      pages: person.pages.map((page) => ({
        id: page.id,
        name: page.name,
        businessOwned: page.businessOwned,
        hasRole: current.has(page.id),
        activeTokens: facebook.activeTokenCount(person.id, page.id),
        instagram: page.instagram && {
          id: page.instagram.id,
          username: page.instagram.username,
          avatarUrl: `${options.basePath}/facebook/avatars/${page.instagram.id}.svg`,
        },
      })),
    };
  });
}

export function mountFacebookAccountsRoutes(
  router: Router,
  context: SandboxRouteContext,
  control: FacebookSandboxControl,
): void {
  const { facebook, options } = context;

  router.get('/facebook/avatars/:file', (req, res) => {
    const id = /^(\d+)\.svg$/.exec(routeParam(req, 'file'))?.[1];
    const ig = id === undefined ? undefined : facebook.findInstagramAccount(id)?.page.instagram;
    if (!ig) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.setHeader('Content-Type', 'image/svg+xml');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.send(avatarSvg({ igUserId: ig.id, username: ig.username }));
  });

  router.get('/facebook/thumbnails/:file', (req, res) => {
    const shortcode = /^([A-Za-z0-9_-]+)\.svg$/.exec(routeParam(req, 'file'))?.[1];
    const post = OEMBED_POSTS.find((p) => p.shortcode === shortcode);
    if (!post) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.setHeader('Content-Type', 'image/svg+xml');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.send(avatarSvg({ igUserId: post.shortcode, username: post.username }));
  });

  router.post('/accounts/facebook/:personId/pages/:pageId/remove-role', formBody('1kb'), async (req, res) => {
    if (req.get('sec-fetch-site') === 'cross-site') {
      return context.errorPage(res, 403, 'Forbidden', 'This form must be sent from the sandbox accounts page.');
    }
    const person = facebook.findPerson(routeParam(req, 'personId'));
    const page = person?.pages.find((p) => p.id === routeParam(req, 'pageId'));
    if (!person || !page) return context.errorPage(res, 404, 'Not found', 'No such person or Page.');
    control.removePageRole(person.id, page.id);
    return redirect(res, 303, `${options.basePath}/accounts?notice=fb-remove-role:${person.id}:${page.id}`);
  });

  router.post('/accounts/facebook/:personId/:action', formBody('1kb'), async (req, res) => {
    // These buttons change state: refuse a form posted from another site.
    if (req.get('sec-fetch-site') === 'cross-site') {
      return context.errorPage(res, 403, 'Forbidden', 'This form must be sent from the sandbox accounts page.');
    }
    const action = personActionNamed(routeParam(req, 'action'));
    const person = facebook.findPerson(routeParam(req, 'personId'));
    if (!action || !person) return context.errorPage(res, 404, 'Not found', 'No such person or action.');
    try {
      await PERSON_ACTIONS[action].run(control, person.id);
    } catch {
      // Only the callbacks can fail here: none configured, or the app did not answer.
      return context.errorPage(
        res,
        502,
        'The callback was not delivered',
        'The app did not answer at its Facebook callback URL, or the sandbox has none configured. Tokens were changed as asked.',
      );
    }
    return redirect(res, 303, `${options.basePath}/accounts?notice=fb-${action}:${person.id}`);
  });
}
