import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import type { AuditLog } from '../access/audit-log.ts';
import {
  DEFAULT_DEVICE_COMMAND_RATE,
  decideDeviceCommand,
  ROUTE_ACTIONS,
} from '../access/device-command-rules.ts';
import { STAFF } from '../access/roles.ts';
import { type RateLimit, RateLimiter } from '../access/unlock-rules.ts';
import type { DeviceProfile } from '../device-profiles/profile.ts';
import type { SiteConfig } from '../site/site.ts';
import { SiteId } from './context.ts';
import { ErrorBody } from './errors.ts';
import type { CommandOptions, CommandReport, LockCommands } from './lock-commands.ts';

/**
 * Switches and thermostats: `POST /api/devices/:id/commands` `{action, channel?, value?, commandId?}`. Facility
 * and admin sessions may call it, and integration tokens with the scope `commands:write` (Node-RED's "command
 * out"); nobody else. What it sends is decided by `access/device-command-rules.ts` (never a lock: doors open
 * only through the unlock route); the command travels like a lock's, through the building's command topic to
 * the gateway, which refuses it once seen or once expired, encodes it with the device's profile and answers
 * with the state the device reports. Every attempt, sent or refused, is written to the audit log with its
 * outcome, and answered in one shape:
 *   200 confirmed · 400 a malformed request · 404 unknown device · 409 duplicate (the command id was used) ·
 *   422 unsupported (the device cannot) or invalid_value (not a value it takes) · 429 rate_limited (too many
 *   commands from this caller: DEFAULT_DEVICE_COMMAND_RATE, Retry-After) · 502 failed (the device or
 *   the gateway refused) · 503 device_offline (device, gateway or broker unreachable) · 504 timeout (no
 *   confirmation in time: the device may or may not have switched).
 */

export const DeviceCommandResult = Type.Union([
  Type.Literal('confirmed'),
  Type.Literal('duplicate'),
  Type.Literal('unsupported'),
  Type.Literal('invalid_value'),
  Type.Literal('device_offline'),
  Type.Literal('timeout'),
  Type.Literal('failed'),
  Type.Literal('rate_limited'),
]);
export type DeviceCommandResult = Static<typeof DeviceCommandResult>;

export const DeviceCommandBody = Type.Object(
  {
    action: Type.Union(
      ROUTE_ACTIONS.map((a) => Type.Literal(a)),
      { description: 'switch_on, switch_off (a relay or plug output), set_setpoint (a radiator valve, °C)' },
    ),
    channel: Type.Optional(
      Type.String({
        pattern: '^(0|[1-9][0-9]?)$',
        description: 'the output as the device numbers it (switch output 2 of a Pro 4PM: "2"); default "0"',
      }),
    ),
    value: Type.Optional(
      Type.Number({
        description: 'with set_setpoint: °C, in the range and steps the device family declares',
      }),
    ),
    commandId: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_-]{8,64}$',
        description:
          'your own id for this command: a retry with the same id is never carried out twice (answered duplicate)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type DeviceCommandBody = Static<typeof DeviceCommandBody>;

export const DeviceCommandAnswer = Type.Object(
  {
    result: DeviceCommandResult,
    device: Type.String(),
    action: Type.String(),
    channel: Type.String(),
    value: Type.Optional(Type.Number()),
    commandId: Type.Optional(Type.String({ description: 'the id the command was sent with' })),
    detail: Type.Optional(Type.String({ description: "the gateway's or device's own words" })),
    latencyMs: Type.Number({ description: 'from the request to the answer' }),
    retryAfterS: Type.Optional(
      Type.Integer({ description: 'with rate_limited: seconds until the next command is taken' }),
    ),
  },
  { description: 'What the device did' },
);
export type DeviceCommandAnswer = Static<typeof DeviceCommandAnswer>;

export interface DeviceCommandRoutesOptions {
  site: SiteConfig;
  profiles: Map<string, DeviceProfile>;
  audit: AuditLog;
  /** The command channel; without one every command answers device_offline. */
  commands?: Pick<LockCommands, 'send'> | undefined;
  now: () => number;
  /** Commands per caller (member or token); default DEFAULT_DEVICE_COMMAND_RATE. */
  rate?: RateLimit | undefined;
}

/** How the gateway's outcome reads to the caller, and which status carries it. */
export function deviceCommandAnswer(report: Pick<CommandReport, 'outcome'>): {
  status: 200 | 409 | 422 | 502 | 503 | 504;
  result: DeviceCommandResult;
} {
  switch (report.outcome) {
    case 'done':
      return { status: 200, result: 'confirmed' };
    case 'duplicate':
      return { status: 409, result: 'duplicate' };
    case 'unsupported':
      return { status: 422, result: 'unsupported' };
    case 'invalid_value':
      return { status: 422, result: 'invalid_value' };
    case 'offline':
    case 'not_sent':
      return { status: 503, result: 'device_offline' };
    case 'timeout':
    case 'no_answer':
      return { status: 504, result: 'timeout' };
    default:
      return { status: 502, result: 'failed' };
  }
}

export const deviceCommandRoutes: FastifyPluginAsyncTypebox<DeviceCommandRoutesOptions> = async (
  app,
  options,
) => {
  const { site, profiles, audit, commands, now } = options;
  const limiter = new RateLimiter(options.rate ?? DEFAULT_DEVICE_COMMAND_RATE);
  const devices = new Map(site.devices.map((d) => [d.id, d]));

  app.post(
    '/api/devices/:id/commands',
    {
      config: { access: STAFF, tokenScope: 'commands:write' },
      schema: {
        tags: ['devices'],
        summary: 'Switch an output on or off, or set a radiator valve; every command is audited',
        description:
          'Sends the command through the gateway and answers with what the device did: 200 confirmed (the device reported the new state); 404 no such device; 409 duplicate (commandId already used); 422 unsupported or invalid_value; 429 rate_limited (too many commands from this caller; Retry-After); 502 failed; 503 device_offline; 504 timeout (no confirmation: it may or may not have happened). Locks are opened only through POST /api/spaces/:id/unlock.',
        params: Type.Object({ id: SiteId }),
        body: DeviceCommandBody,
        response: {
          200: DeviceCommandAnswer,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          404: DeviceCommandAnswer,
          409: DeviceCommandAnswer,
          422: DeviceCommandAnswer,
          429: DeviceCommandAnswer,
          502: DeviceCommandAnswer,
          503: DeviceCommandAnswer,
          504: DeviceCommandAnswer,
        },
      },
    },
    async (request, reply) => {
      const started = now();
      const deviceId = request.params.id;
      const { action, value, commandId } = request.body;
      const channel = request.body.channel ?? '0';
      // A member (facility, admin) or an integration token: the auth hook let in one of them.
      const member = request.member;
      const token = request.integration;
      const actor = member ? member.id : token ? `token:${token.id}` : null;
      const by = member ? { role: member.role } : token ? { token: token.label } : {};
      const asked = { action, channel, ...(value === undefined ? {} : { value }) };
      const record = (decision: 'granted' | 'denied', reason: string, detail: Record<string, unknown>) =>
        audit.record({
          at: started,
          actor,
          action: 'device_command',
          target: deviceId,
          decision,
          reason,
          detail: { ...by, ...asked, ...detail, latencyMs: now() - started },
        });

      // Before anything else, as the unlock route: a caller past its rate learns nothing about the device.
      const take = limiter.take(actor ?? 'nobody', started);
      if (!take.allowed) {
        const retryAfterS = Math.ceil(take.retryAfterMs / 1000);
        await record('denied', 'rate_limited', { retryAfterS });
        reply.header('retry-after', String(retryAfterS));
        return reply.code(429).send({
          result: 'rate_limited',
          device: deviceId,
          ...asked,
          retryAfterS,
          latencyMs: now() - started,
        });
      }

      const device = devices.get(deviceId);
      const profile = device ? profiles.get(device.profile) : undefined;
      const verdict = decideDeviceCommand({
        device: device
          ? {
              id: device.id,
              actions: profile?.actions ?? [],
              ...(profile?.actionValues ? { actionValues: profile.actionValues } : {}),
            }
          : undefined,
        action,
        ...(value === undefined ? {} : { value }),
      });
      if (!verdict.send) {
        await record('denied', verdict.reason, { detail: verdict.detail });
        const status = verdict.reason === 'unknown_device' ? 404 : 422;
        return reply.code(status).send({
          result: verdict.reason === 'unknown_device' ? 'failed' : verdict.reason,
          device: deviceId,
          ...asked,
          detail: verdict.detail,
          latencyMs: now() - started,
        });
      }

      const more: CommandOptions = {
        channel,
        ...(value === undefined ? {} : { value }),
        ...(commandId === undefined ? {} : { id: commandId }),
      };
      const report: CommandReport = commands
        ? await commands.send(deviceId, action, more)
        : {
            id: null,
            device: deviceId,
            action,
            outcome: 'not_sent',
            detail: 'this API has no command channel',
            publishedAt: null,
            answeredAt: null,
          };
      const { status, result } = deviceCommandAnswer(report);
      await record('granted', result, {
        outcome: report.outcome,
        deviceDetail: report.detail,
        commandId: report.id,
        publishedMs: report.publishedAt === null ? null : report.publishedAt - started,
      });
      const latencyMs = now() - started;
      request.log.info({ actor, device: deviceId, ...asked, result, latencyMs }, 'device command');
      return reply.code(status).send({
        result,
        device: deviceId,
        ...asked,
        ...(report.id ? { commandId: report.id } : {}),
        detail: report.detail,
        latencyMs,
      });
    },
  );
};
