/**
 * What a visitor can ask of the room: join, resume, status. Each returns the messages to send
 * back on the asking connection; none of them throws for bad input.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IdentityVerifier } from './identity.ts';
import {
  type ArrivalQueue,
  type Clock,
  type ConfigSource,
  type ConnectionCloser,
  ConnectionTakenError,
  type ProcessorWaker,
  type RoomConfig,
  SessionExistsError,
  type SessionStore,
  type Signer,
  type SourcePlaces,
} from './ports.ts';
import type { Proof, ProofOfWork } from './proof-of-work.ts';
import { ErrorCode, errorMessage, type ServerMessage } from './protocol.ts';
import { mainSiteUrl, safeReturnPath } from './return-path.ts';
import { isPowCost } from './room-settings.ts';
import { isInLine, newSession, type Session } from './session.ts';
import { TicketChecksBusyError } from './ticket-checks.ts';

export interface VisitorDeps {
  store: SessionStore;
  queue: ArrivalQueue;
  config: ConfigSource;
  signer: Signer;
  clock: Clock;
  mainOrigin: string;
  /**
   * Wakes a processor that sleeps with nobody in line (AWS); unset where the processor never
   * sleeps (the local runtime). Never throws.
   */
  waker?: ProcessorWaker;
  /** Closes the connection a resumed place leaves (`superseded`); unset: none is told. */
  connections?: ConnectionCloser;
  /** Counts places per source address (`sources.ts`); unset: no limit per source. */
  sources?: SourcePlaces;
  /** Checks the site's identity tokens (`identity.ts`); unset: places are not tied to people. */
  identities?: IdentityVerifier;
  /**
   * Makes and checks proof-of-work challenges (`proof-of-work.ts`) while the config sets a
   * `powCost`; unset: no join is asked for one.
   */
  proofs?: ProofOfWork;
  /** Creates session ids; random UUIDs unless a test needs to know them. */
  newId?: () => string;
}

/**
 * Takes a new place in line, or answers for the place this connection already holds. `source`
 * is the key of the connection's address (`sourceKey`): a source holding its most places gets
 * `rate_limited`. With identity tokens (`identity.ts`), a person holds one place: a join for a
 * person whose place is still good continues that place on this connection.
 *
 * While the config sets a proof-of-work cost, a join that would make a new place must carry a
 * solved challenge (`proof`): without one it gets a `challenge` and takes no place; a bad one
 * gets `invalid_proof`. The proof is spent (once, ever) only when the place is about to be
 * made: a refused identity, a person who continues their place, or a source over its limit
 * spends nothing.
 */
export async function join(
  deps: VisitorDeps,
  connectionId: string,
  request: { return?: unknown; identity?: string; proof?: Proof; joinKey?: string },
  source: string | null = null,
): Promise<ServerMessage[]> {
  const { store, queue, signer, clock } = deps;
  const config = await deps.config.get();
  const returnPath = safeReturnPath(request.return ?? '/', deps.mainOrigin);
  const heldId = await store.sessionOfConnection(connectionId);
  const held = heldId ? await store.get(heldId) : undefined;
  if (held && held.state !== 'abandoned') {
    // One place per connection: a repeated join answers for the place already held.
    return answerFor(deps, held, config, await signer.issueTicket(held.id, clock.now()));
  }
  // The same join again (its answer was lost): the place it made continues on this connection.
  const keyed = request.joinKey ? sessionIdOfJoinKey(request.joinKey) : null;
  const made = keyed ? await store.get(keyed) : undefined;
  if (made && stillGood(made, clock.now())) {
    return continueHere(deps, connectionId, made, await signer.issueTicket(made.id, clock.now()));
  }
  // The sale is over: no more places.
  if (config.closed != null && config.enabled) return [closedMessage(config.closed)];
  let identity: string | null = null;
  if (deps.identities) {
    identity = request.identity
      ? await deps.identities.verify(request.identity, clock.now())
      : null;
    if (identity === null && (request.identity || deps.identities.required)) {
      return [
        errorMessage(
          ErrorCode.invalidIdentity,
          request.identity
            ? 'this sign-in link is not valid here, or has expired: follow the link on the site again'
            : 'sign in on the site first, and follow its link to the waiting room',
        ),
      ];
    }
  }
  if (!config.enabled) {
    return [{ type: 'open', redirectUrl: mainSiteUrl(deps.mainOrigin, returnPath) }];
  }
  const now = clock.now();
  const cost = deps.proofs && isPowCost(config.powCost) ? config.powCost : 0;
  let paid: PaidProof | null = null;
  if (deps.proofs && cost > 0) {
    const checked = await checkProof(deps.proofs, request.proof, cost, now);
    if (Array.isArray(checked)) return checked;
    paid = checked;
  }
  // A key whose place is gone (given up, or its pass used) makes a place of a new id.
  const id = keyed && !made ? keyed : (deps.newId ?? randomUUID)();
  const session = newSession(id, connectionId, returnPath, now);
  if (identity !== null) {
    const own = await claimPlaceOf(deps, identity, session.id);
    // The person's place is still good: it continues on this connection.
    if (own) return continueHere(deps, connectionId, own, await signer.issueTicket(own.id, now));
    session.identity = identity;
  }
  const ticket = await signer.issueTicket(session.id, now);
  if (source !== null && deps.sources) {
    if (!(await deps.sources.take(source))) {
      return [
        errorMessage(
          ErrorCode.rateLimited,
          'too many places are held from your network; try again in a little while',
        ),
      ];
    }
    session.source = source;
  }
  if (paid && !(await store.spendProof(paid.id, paid.expiresAt))) {
    if (session.source !== undefined) await deps.sources?.release([session.source]);
    // Spent by the same join a moment ago (its answer lost): that join's place, once made.
    const racing = keyed ? await madeMeanwhile(deps, keyed) : undefined;
    if (racing) {
      return continueHere(deps, connectionId, racing, await signer.issueTicket(racing.id, now));
    }
    return [
      errorMessage(ErrorCode.invalidProof, 'this proof of work was used already: solve a new one'),
    ];
  }
  try {
    // The binding this connection has (to a place given up, or to one long forgotten) is the
    // one to replace.
    await store.create(session, heldId);
  } catch (error) {
    // No place was taken: the one counted for it goes back.
    if (session.source !== undefined) await deps.sources?.release([session.source]);
    if (error instanceof SessionExistsError) {
      // The same join, retried while the first one ran, made the place first.
      const first = await store.get(session.id);
      if (!first) throw error;
      return continueHere(deps, connectionId, first, await signer.issueTicket(first.id, now));
    }
    if (!(error instanceof ConnectionTakenError)) throw error;
    // Another join on this connection, running at the same time, took the place first.
    const winner = await store.sessionOfConnection(connectionId);
    const taken = winner ? await store.get(winner) : undefined;
    if (!taken) throw error;
    return answerFor(deps, taken, config, await signer.issueTicket(taken.id, clock.now()));
  }
  // Enqueued before `joined` is sent: whoever is told they joined first is numbered first. It
  // is the last step, so the processor cannot number the session while this handler still runs.
  await queue.enqueue({ sessionId: session.id, joinedAt: now });
  // Queued first: a processor that goes to sleep looks at the queue once more after saying so.
  await deps.waker?.wakeIfAsleep();
  const joined: ServerMessage = { type: 'joined', ticket, sessionId: session.id };
  return [joined, ...noticeFor(session, config)];
}

/** A good proof of work, to spend when the place is made. */
interface PaidProof {
  id: string;
  expiresAt: number;
}

/**
 * The proof a join brings, checked at `cost`: to spend, or the answer instead of a place (a new
 * challenge when there is none, or it was made for a lower cost than now; else `invalid_proof`).
 */
async function checkProof(
  proofs: ProofOfWork,
  proof: Proof | undefined,
  cost: number,
  now: number,
): Promise<PaidProof | ServerMessage[]> {
  const check = proof ? await proofs.check(proof, cost, now) : ({ outcome: 'cheaper' } as const);
  if (check.outcome === 'good') return { id: check.id, expiresAt: check.expiresAt };
  if (check.outcome === 'cheaper') {
    return [{ type: 'challenge', challenge: await proofs.challenge(cost, now) }];
  }
  return [
    errorMessage(
      ErrorCode.invalidProof,
      check.reason === 'expired'
        ? 'this proof of work has expired: solve a new one'
        : 'this proof of work is not valid here: solve a new one',
    ),
  ];
}

/**
 * Takes back the place a ticket names, on a new connection. `source` is the key of the
 * connection's address: a source that sent too many forged tickets gets `rate_limited`.
 */
export async function resume(
  deps: VisitorDeps,
  connectionId: string,
  ticket: string,
  source: string | null = null,
): Promise<ServerMessage[]> {
  const { store, signer, clock } = deps;
  let sessionId: string | null;
  try {
    sessionId = await signer.readTicket(ticket, clock.now(), source);
  } catch (error) {
    if (!(error instanceof TicketChecksBusyError)) throw error;
    // Forged tickets spent the room's budget of failed checks: try again shortly.
    return [errorMessage(ErrorCode.rateLimited, 'too many tickets to check; try again shortly')];
  }
  const session = sessionId ? await store.get(sessionId) : undefined;
  if (!session) return [errorMessage(ErrorCode.invalidTicket, 'this ticket is not valid here')];
  if (session.state === 'abandoned') {
    return [placeGivenUp()];
  }
  if (session.state === 'admitted' && !passStillValid(session, clock.now())) {
    return [passUsedUp()];
  }
  return continueHere(deps, connectionId, session, ticket);
}

/** Whether a session still holds something for its visitor: a place in line, or a good pass. */
function stillGood(session: Session, now: number): boolean {
  return isInLine(session) || (session.state === 'admitted' && passStillValid(session, now));
}

/**
 * The place a person already holds, if it is still good; else binds the person to `sessionId`
 * (the place about to be made) and returns undefined. A race with another join of the same
 * person is settled by the store: the loser reads the winner's place and continues it.
 */
async function claimPlaceOf(
  deps: VisitorDeps,
  identity: string,
  sessionId: string,
): Promise<Session | undefined> {
  const { store, clock } = deps;
  let unmade = 0;
  for (let attempt = 0; attempt < 3 + UNMADE_CHECKS; attempt++) {
    const boundId = (await store.sessionOfIdentity(identity)) ?? null;
    const bound = boundId ? await store.get(boundId) : undefined;
    if (bound && stillGood(bound, clock.now())) return bound;
    // Bound to a place not made yet: another join of this person is making it right now (its
    // claim comes just before its create), or died in between. Wait for it a little.
    if (boundId && !bound && unmade < UNMADE_CHECKS) {
      unmade += 1;
      await new Promise((resolve) => setTimeout(resolve, UNMADE_WAIT_MS));
      continue;
    }
    if (await store.claimIdentity(identity, sessionId, boundId)) return undefined;
  }
  throw new Error('the identity kept changing hands: try again');
}

/**
 * The session a `joinKey` makes: a hash of the key, shaped as a UUID, so a retried join finds
 * the place its first try made, while the key itself (the page's secret) never leaves the room
 * in a ticket or a pass.
 */
export function sessionIdOfJoinKey(joinKey: string): string {
  const hex = createHash('sha256').update(`join-key:${joinKey}`).digest('hex');
  // Version 8 (custom) and the RFC 9562 variant, as a UUID says.
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The place a racing join of the same key is making (it spent the proof just before creating
 * it), waited for up to 0.5 s; undefined if none appears.
 */
async function madeMeanwhile(deps: VisitorDeps, sessionId: string): Promise<Session | undefined> {
  for (let check = 0; check < UNMADE_CHECKS; check++) {
    const session = await deps.store.get(sessionId);
    if (session) return stillGood(session, deps.clock.now()) ? session : undefined;
    await new Promise((resolve) => setTimeout(resolve, UNMADE_WAIT_MS));
  }
  return undefined;
}

/** How long a join waits for a place another join of the same person is making: 0.5 s. */
const UNMADE_CHECKS = 20;
const UNMADE_WAIT_MS = 25;

/**
 * Takes a place over on a new connection (a `resume`, or a person joining again elsewhere): the
 * connection that held it until now is told `superseded` and closed.
 */
async function continueHere(
  deps: VisitorDeps,
  connectionId: string,
  session: Session,
  ticket: string,
): Promise<ServerMessage[]> {
  const { store, clock } = deps;
  // Read before attaching (the in-process store hands out the stored session itself).
  const previous = session.disconnectedAt === null ? session.connectionId : null;
  // A place this connection held until now is let go (marked disconnected): one place at a time.
  await store.attachConnection(session.id, connectionId, clock.now());
  // The connection that held this place until now (another tab, a socket not yet closed) is
  // told and closed: two pages never wait on one place, and its close no longer touches it.
  if (previous !== null && previous !== connectionId) await deps.connections?.supersede(previous);
  // Read again once attached: a tick running meanwhile may have admitted the session while it
  // still looked away, and then it left the telling to this resume (frames and ticks run at the
  // same time on AWS). Admitted after this read, it is connected and the tick tells it.
  const current = (await store.get(session.id)) ?? session;
  if (current.state === 'admitted' && !passStillValid(current, clock.now())) {
    return [passUsedUp()];
  }
  const config = await deps.config.get();
  return answerFor(deps, current, config, ticket);
}

/** A fresh answer on where this connection's session stands. */
export async function status(deps: VisitorDeps, connectionId: string): Promise<ServerMessage[]> {
  const sessionId = await deps.store.sessionOfConnection(connectionId);
  const session = sessionId ? await deps.store.get(sessionId) : undefined;
  if (!session) return [errorMessage(ErrorCode.badRequest, 'join or resume first')];
  if (session.state === 'abandoned') {
    return [placeGivenUp()];
  }
  if (session.state === 'arriving') await requeue(deps, session);
  // The processor keeps the line and tells the position: it hears the question at its next tick.
  if (session.state === 'waiting') await deps.store.askForPosition(session.id);
  const config = await deps.config.get();
  return [...stateMessages(session, config, lineContext(deps)), ...noticeFor(session, config)];
}

async function answerFor(
  deps: VisitorDeps,
  session: Session,
  config: RoomConfig,
  ticket: string,
): Promise<ServerMessage[]> {
  if (session.state === 'arriving') await requeue(deps, session);
  const joined: ServerMessage = { type: 'joined', ticket, sessionId: session.id };
  return [
    joined,
    ...stateMessages(session, config, lineContext(deps)),
    ...noticeFor(session, config),
  ];
}

/**
 * How long a session may stay `arriving` before a `status`, a repeated `join` or a `resume`
 * puts its arrival on the queue again: an enqueue that failed after the session was stored
 * is healed, while the usual case (numbered at the next tick) costs no queue call at all.
 */
export const REQUEUE_AFTER_MS = 10_000;

/**
 * Puts a long-arriving session's arrival on the queue again: idempotent (the queue deduplicates,
 * the store numbers a session once).
 */
async function requeue(deps: VisitorDeps, session: Session): Promise<void> {
  if (deps.clock.now() - session.joinedAt < REQUEUE_AFTER_MS) return;
  await deps.queue.enqueue({ sessionId: session.id, joinedAt: session.joinedAt });
  await deps.waker?.wakeIfAsleep();
}

interface LineContext {
  mainOrigin: string;
  now: number;
}

function lineContext(deps: VisitorDeps): LineContext {
  return { mainOrigin: deps.mainOrigin, now: deps.clock.now() };
}

/**
 * Where a session stands, as messages: its pass if admitted, `open` if the room is off. A
 * waiting session hears its position from the processor, which keeps the line: at its next
 * tick for a new connection or a `status`.
 */
function stateMessages(session: Session, config: RoomConfig, line: LineContext): ServerMessage[] {
  if (session.state === 'admitted' && session.pass) {
    if (!passStillValid(session, line.now)) {
      return [passUsedUp()];
    }
    return [
      {
        type: 'admitted',
        pass: session.pass.token,
        expiresAt: session.pass.expiresAt,
        redirectUrl: mainSiteUrl(line.mainOrigin, session.returnPath, {
          wr_pass: session.pass.token,
        }),
      },
    ];
  }
  if (isInLine(session) && !config.enabled) {
    return [{ type: 'open', redirectUrl: mainSiteUrl(line.mainOrigin, session.returnPath) }];
  }
  if (isInLine(session) && config.closed != null) return [closedMessage(config.closed)];
  return [];
}

/**
 * The operator's words for a visitor in line, who may have missed them while away (a page
 * takes its banner down at `joined`, and puts up what follows).
 */
function noticeFor(session: Session, config: RoomConfig): ServerMessage[] {
  if (!isInLine(session) || !config.enabled || config.closed != null) return [];
  return config.message == null ? [] : [{ type: 'notice', message: config.message }];
}

function closedMessage(message: string): ServerMessage {
  return { type: 'closed', message };
}

function passUsedUp(): ServerMessage {
  return errorMessage(ErrorCode.invalidTicket, 'this place was used and its pass has expired');
}

function placeGivenUp(): ServerMessage {
  return errorMessage(ErrorCode.invalidTicket, 'this place was given up after a long absence');
}

function passStillValid(session: Session, now: number): boolean {
  return session.pass !== null && session.pass.expiresAt * 1000 > now;
}
