import type { Router } from 'express';
import { facebookNotice, facebookPeopleCards } from './facebook-accounts.routes';
import type { SandboxControl } from './sandbox-control';
import { formBody, queryOf, redirect, routeParam, type SandboxRouteContext } from './sandbox-http';
import { avatarSvg } from './sandbox-views';

/**
 * The test accounts: their generated avatars, and the accounts page whose buttons do to an account what
 * a person or Meta can do on the real platform (revoke, expire, change the password, remove the app,
 * ask for data deletion).
 */

interface AccountAction {
  /** Completes "… @username." on the page after the button was pressed. */
  notice: string;
  run(control: SandboxControl, igUserId: string): unknown;
}

const ACTIONS = {
  revoke: { notice: 'Revoked every token of', run: (control, id) => control.revokeTokens(id) },
  expire: { notice: 'Marked every token as expired for', run: (control, id) => control.expireTokens(id) },
  password: {
    notice: 'Simulated a password change (tokens invalidated) for',
    run: (control, id) => control.changePassword(id),
  },
  remove: {
    notice: 'Removed the app (tokens invalidated, signed deauthorize callback sent to the app) for',
    run: (control, id) => control.removeApp(id),
  },
  'delete-data': {
    notice: 'Sent a signed data-deletion request to the app for',
    run: (control, id) => control.requestDataDeletion(id),
  },
} satisfies Record<string, AccountAction>;

type ActionName = keyof typeof ACTIONS;

function actionNamed(name: string): ActionName | undefined {
  return Object.hasOwn(ACTIONS, name) ? (name as ActionName) : undefined;
}

export function mountAccountsRoutes(router: Router, context: SandboxRouteContext, control: SandboxControl): void {
  const { state, options } = context;

  router.get('/avatars/:file', (req, res) => {
    const id = /^(\d+)\.svg$/.exec(routeParam(req, 'file'))?.[1];
    const account = id === undefined ? undefined : state.findAccount(id);
    if (!account) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.setHeader('Content-Type', 'image/svg+xml');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.send(avatarSvg(account));
  });

  router.get('/accounts', async (req, res) => {
    const noticeParam = queryOf(req).get('notice') ?? '';
    const notice = /^(revoke|expire|password|remove|delete-data):(\d+)$/.exec(noticeParam);
    const noticeAccount = notice?.[2] ? state.findAccount(notice[2]) : undefined;
    return context.page(res, 200, 'accounts', {
      title: 'Test accounts',
      notice:
        notice && noticeAccount
          ? `${ACTIONS[notice[1] as ActionName].notice} @${noticeAccount.username}.`
          : facebookNotice(noticeParam, context.facebook),
      facebookPeople: facebookPeopleCards(context),
      accounts: state.accounts().map((account) => ({
        ...context.accountCard(account),
        activeTokens: state.activeTokenCount(account),
      })),
    });
  });

  router.post('/accounts/:id/:action', formBody('1kb'), async (req, res) => {
    // These buttons change state: refuse a form posted from another site.
    if (req.get('sec-fetch-site') === 'cross-site') {
      return context.errorPage(res, 403, 'Forbidden', 'This form must be sent from the sandbox accounts page.');
    }
    const action = actionNamed(routeParam(req, 'action'));
    const account = state.findAccount(routeParam(req, 'id'));
    if (!action || !account) return context.errorPage(res, 404, 'Not found', 'No such account or action.');
    await ACTIONS[action].run(control, account.igUserId);
    return redirect(res, 303, `${options.basePath}/accounts?notice=${action}:${account.igUserId}`);
  });
}
