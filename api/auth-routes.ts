import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ANY_MEMBER, ROLES } from '../access/roles.ts';
import type { Identity } from '../members/identity.ts';
import type { SignInThrottleScope } from '../members/sign-in-throttle.ts';
import { SESSION_COOKIE } from './auth.ts';
import { ApiError, ErrorBody } from './errors.ts';
import type { OpenSockets } from './socket-sessions.ts';

export const MemberOut = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Type.Enum([...ROLES]),
});

const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});

const LoginOut = Type.Object({
  member: MemberOut,
  token: Type.String({
    description: 'the session token, for clients without cookies: send it as `Authorization: Bearer <token>`',
  }),
  expiresAt: Type.Number({ description: 'epoch ms; the session also ends after 12 h unused' }),
});

export interface AuthRoutesOptions {
  identity: Identity;
  /** The open WebSockets, closed at sign-out when their session opened them. */
  openSockets?: OpenSockets;
  /** Sign-in attempts per client address per minute, in this process (on top of the waits after failures). */
  loginRateLimit?: { max: number; timeWindowMs: number };
}

export const DEFAULT_LOGIN_RATE_LIMIT = { max: 20, timeWindowMs: 60_000 };

const SAME_MESSAGE = 'e-mail or password is wrong';

/** Says which count holds the attempt back; none of them tells whether the e-mail is a member's. */
const THROTTLED: Record<SignInThrottleScope, string> = {
  account_address: 'too many failed sign-ins for this account from this address',
  address: 'too many failed sign-ins from this address',
  account: 'too many failed sign-ins for this account from addresses it has not signed in from',
};

function waitText(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { identity } = options;
  const limit = options.loginRateLimit ?? DEFAULT_LOGIN_RATE_LIMIT;

  app.post(
    '/api/auth/login',
    {
      config: {
        access: 'public',
        rateLimit: { max: limit.max, timeWindow: limit.timeWindowMs },
      },
      schema: {
        tags: ['auth'],
        summary:
          'Sign in with e-mail and password: sets the wesprint_session cookie (HttpOnly, SameSite=Strict, Secure over TLS)',
        body: LoginBody,
        response: { 200: LoginOut, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const result = await identity.signIn(request.body.email, request.body.password, { ip: request.ip });
      if (result.outcome === 'throttled') {
        const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
        reply.header('retry-after', String(seconds));
        throw new ApiError(429, `${THROTTLED[result.scope]}; try again in ${waitText(seconds)}`);
      }
      if (result.outcome === 'invalid') throw new ApiError(401, SAME_MESSAGE);
      reply.setCookie(SESSION_COOKIE, result.token, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure: request.protocol === 'https',
        expires: new Date(result.expiresAt),
      });
      return { member: result.member, token: result.token, expiresAt: result.expiresAt };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: ends the session of the cookie or bearer token and clears the cookie',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      if (request.sessionToken) {
        await identity.signOut(request.sessionToken, { ip: request.ip });
        // The live channels this session opened stop now, not at their next check.
        await options.openSockets?.recheck(request.sessionToken);
      }
      reply.clearCookie(SESSION_COOKIE, {
        httpOnly: true,
        sameSite: 'strict',
        path: '/',
        secure: request.protocol === 'https',
      });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/me',
    {
      config: { access: ANY_MEMBER },
      schema: {
        tags: ['auth'],
        summary: 'The signed-in member',
        response: { 200: Type.Object({ member: MemberOut }), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      // access ANY_MEMBER guarantees a member here.
      if (!request.member) throw new ApiError(401, 'sign in first (POST /api/auth/login)');
      return { member: request.member };
    },
  );
};
